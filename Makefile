# Wafaa AI Concierge. Two commands: `make up` runs the product, `make test` proves it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := libs/common services/gateway services/ingestion services/rag services/channels services/analytics infra/local
SCALE ?=

.PHONY: install up test lint typecheck audit unit bench system-deps clean dashboard dashboard-test

$(STAMP): constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-dev.txt \
		$(addprefix -e ,$(PACKAGES))
	touch $@

install: $(STAMP)

## The admin dashboard (React SPA) built into dashboard/dist, served by the gateway at `/`.
dashboard:
	cd dashboard && npm ci --no-fund --no-audit && npm run build

## Lint, type-check, unit-test and audit the dashboard.
dashboard-test:
	cd dashboard && npm ci --no-fund --no-audit && npm run lint && npm run typecheck && npm test && bash scripts/audit.sh

## Run everything locally: embedded Postgres + Redis, migrations, all services (SCALE=rag=3 for replicas).
up: install
	@if command -v npm >/dev/null 2>&1; then $(MAKE) dashboard; else echo "node/npm not found: skipping the dashboard build (the API still runs)"; fi
	SCALE="$(SCALE)" $(BIN)/wafaa-dev up

## System packages the checks need (nginx for `nginx -t`); installed from Debian when missing.
system-deps:
	@bash infra/scripts/system-deps.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy -p wafaa.common

## Known vulnerabilities in the installed Python packages (pip-audit; see the script for what it reports).
audit: install
	$(BIN)/python infra/scripts/audit_python.py

## Lint, type-check, audit and every test against real Postgres and Redis.
test: install system-deps lint typecheck audit
	@if command -v npm >/dev/null 2>&1; then $(MAKE) dashboard-test dashboard; else echo "node/npm not found: skipping the dashboard checks"; fi
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
