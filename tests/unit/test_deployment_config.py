"""The container deployment: docker-compose.yml, the Dockerfiles and the nginx edge config.

No Docker engine is needed: the compose file is read as YAML, the Dockerfiles as text, and the
nginx config is checked by the real `nginx -t` (installed by `make system-deps`).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from wafaa.common.config import CommonSettings
from wafaa.common.runtime.watchdog import shutdown_deadline

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_DIR = ROOT / "infra" / "nginx"
MIGRATE_DOCKERFILE = ROOT / "infra" / "migrate" / "Dockerfile"
SERVICE_FOLDERS = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
EDGE = "nginx"
ONE_SHOT = "migrate"
# uvicorn is started with timeout_graceful_shutdown = GRACEFUL_TIMEOUT + 5 (see runtime.worker.serve).
UVICORN_EXTRA_SECONDS = 5


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(compose, dict) and isinstance(compose.get("services"), dict), "no services in the compose file"
    return compose["services"]


def _seconds(duration: str) -> float:
    """A compose duration such as `40s`, `1m30s` or `500ms`, in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), f"not a compose duration: {duration!r}"
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    return sum(float(n) * scale[u] for n, u in parts)


def _command(value: str | list[str] | None) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value or [])


def _fixed_host_port(entry: str | int | dict[str, Any]) -> bool:
    if isinstance(entry, dict):
        return bool(entry.get("published"))
    # "8000" (ephemeral host port), "80:8080", "127.0.0.1:80:8080", "8000/tcp"
    return ":" in str(entry).split("/")[0]


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _graceful_timeout(service: dict[str, Any]) -> float:
    configured = (service.get("environment") or {}).get("GRACEFUL_TIMEOUT")
    if configured is None:
        return float(CommonSettings.model_fields["graceful_timeout"].default)
    return float(configured)


# --- docker-compose.yml ------------------------------------------------------------------------


def test_every_service_folder_has_a_compose_service_built_from_its_own_dockerfile(services: dict) -> None:
    assert SERVICE_FOLDERS, "no services/*/pyproject.toml found"
    for name in SERVICE_FOLDERS:
        assert name in services, f"services/{name} has no compose service"
        build = services[name].get("build")
        assert isinstance(build, dict), f"{name}: expected build: {{context, dockerfile}}"
        assert (ROOT / build.get("context", ".")).resolve() == ROOT, f"{name}: build context must be the repo root"
        assert build.get("dockerfile") == f"services/{name}/Dockerfile", f"{name}: not built from its own Dockerfile"
        assert (ROOT / build["dockerfile"]).is_file(), f"services/{name}/Dockerfile is missing"


def test_postgres_is_pgvector_16_and_redis_7_keeps_an_append_only_file(services: dict) -> None:
    assert services["postgres"]["image"] == "pgvector/pgvector:pg16"
    assert services["redis"]["image"] == "redis:7"
    command = _command(services["redis"].get("command"))
    assert "--appendonly" in command, "redis runs without --appendonly"
    assert command[command.index("--appendonly") + 1] == "yes"


def test_migrate_runs_once_and_every_service_waits_for_it_to_succeed(services: dict) -> None:
    migrate = services[ONE_SHOT]
    assert migrate.get("restart") == "no", "migrate must be one-shot (restart: 'no', quoted in YAML)"
    assert migrate["build"]["dockerfile"] == "infra/migrate/Dockerfile"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SERVICE_FOLDERS:
        depends_on = services[name].get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs the long form with conditions"
        condition = (depends_on.get(ONE_SHOT) or {}).get("condition")
        assert condition == "service_completed_successfully", f"{name} does not wait for migrate to succeed"


def test_long_running_services_have_healthchecks_restart_and_a_grace_period_above_the_shutdown_budget(
    services: dict,
) -> None:
    graceful = max(_graceful_timeout(services[name]) for name in SERVICE_FOLDERS)
    budget = graceful + UVICORN_EXTRA_SECONDS
    # the services themselves: also above the workers' watchdog, so its report is written before a SIGKILL
    service_budget = max(budget, shutdown_deadline(graceful))
    for name, service in services.items():
        if name == ONE_SHOT:
            continue
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", f"{name}: restart must be unless-stopped"
        grace = service.get("stop_grace_period")
        assert grace is not None, f"{name} has no stop_grace_period"
        needed = service_budget if name in SERVICE_FOLDERS else budget
        assert _seconds(grace) > needed, f"{name}: stop_grace_period {grace} is not above {needed:g}s"


def test_service_healthchecks_probe_readiness(services: dict) -> None:
    for name in SERVICE_FOLDERS:
        assert "/ready" in " ".join(_command(services[name]["healthcheck"]["test"])), f"{name}: not probing /ready"


def test_no_container_name_and_only_the_edge_publishes_host_ports(services: dict) -> None:
    for name, service in services.items():
        assert "container_name" not in service, f"{name} has a container_name, so it cannot scale"
        if name != EDGE:
            fixed = [p for p in service.get("ports") or [] if _fixed_host_port(p)]
            assert not fixed, f"{name} publishes fixed host ports {fixed}"
    assert services[EDGE].get("ports"), "nginx publishes no ports"


def test_compose_reads_secrets_from_the_environment_and_the_example_lists_them() -> None:
    text = COMPOSE_FILE.read_text()
    assert "wafaa-dev-app" not in text, "the development database password is in the compose file"
    example = (ROOT / "infra" / "compose.env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    assert used <= documented, f"not in infra/compose.env.example: {sorted(used - documented)}"
    for secret in ("POSTGRES_PASSWORD", "APP_DB_PASSWORD", "REDIS_PASSWORD"):
        assert f"${{{secret}:?" in text, f"{secret} must be required (${{{secret}:?...}})"
        assert re.search(rf"^{secret}=$", example, re.MULTILINE), f"{secret} has a value in the example"


def test_nginx_mounts_the_config_checked_here(services: dict) -> None:
    volumes = [str(v) for v in services[EDGE].get("volumes") or []]
    assert "./infra/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in volumes
    assert "./infra/nginx/snippets:/etc/nginx/snippets:ro" in volumes


# --- Dockerfiles -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dockerfile",
    [ROOT / "services" / name / "Dockerfile" for name in SERVICE_FOLDERS] + [MIGRATE_DOCKERFILE],
    ids=[*SERVICE_FOLDERS, ONE_SHOT],
)
def test_dockerfile_is_multi_stage_and_runs_as_non_root(dockerfile: Path) -> None:
    instructions = _dockerfile_instructions(dockerfile)
    assert sum(1 for keyword, _ in instructions if keyword == "FROM") > 1, "not multi-stage"
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    users = [value for keyword, value in instructions[last_from:] if keyword == "USER"]
    assert users, "the runtime stage has no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}, f"runs as {users[-1]}"


@pytest.mark.parametrize("name", SERVICE_FOLDERS)
def test_service_image_installs_only_its_own_service(name: str) -> None:
    instructions = _dockerfile_instructions(ROOT / "services" / name / "Dockerfile")
    copied = " ".join(value for keyword, value in instructions if keyword == "COPY")
    others = [other for other in SERVICE_FOLDERS if other != name and f"services/{other}" in copied]
    assert f"services/{name}" in copied and not others, f"{name} image copies {others}"
    assert ("CMD", f'["wafaa-{name}"]') in instructions, f"{name} image does not run wafaa-{name}"
    assert any(keyword == "HEALTHCHECK" and "/ready" in value for keyword, value in instructions)


def test_migrate_image_installs_every_service_history_without_their_dependencies() -> None:
    runs = [value for keyword, value in _dockerfile_instructions(MIGRATE_DOCKERFILE) if keyword == "RUN"]
    install = next((run for run in runs if "--no-deps" in run), None)
    assert install, "migrate installs the services with their dependencies"
    services_part = install.split("--no-deps", 1)[1]
    for name in SERVICE_FOLDERS:
        assert f"./services/{name}" in services_part, f"migrate image misses services/{name}'s migrations"


# --- nginx -------------------------------------------------------------------------------------


def _nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        pytest.fail("nginx is not installed: run `make system-deps` (installs Debian's nginx-light)")
    return found


def _mime_types(nginx: str) -> Path:
    version = subprocess.run([nginx, "-V"], capture_output=True, text=True, check=True).stderr
    conf = re.search(r"--conf-path=(\S+)", version)
    path = Path(conf.group(1)).parent / "mime.types" if conf else Path("/etc/nginx/mime.types")
    if not path.is_file():
        pytest.fail(f"{path} not found: the nginx package ships it, reinstall with `make system-deps`")
    return path


@pytest.fixture
def nginx_prefix(tmp_path: Path) -> Path:
    """infra/nginx laid out as /etc/nginx in the container, plus the image's mime.types and a
    throwaway self-signed certificate where TLS_CERT_DIR would be mounted."""
    nginx = _nginx_binary()
    prefix = tmp_path / "nginx"
    shutil.copytree(NGINX_DIR, prefix)
    shutil.copy(_mime_types(nginx), prefix / "mime.types")
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make a throwaway certificate")
    certs = prefix / "certs"
    certs.mkdir(exist_ok=True)
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")),
        ],
        check=True,
        capture_output=True,
    )
    return prefix


def _nginx_t(prefix: Path) -> subprocess.CompletedProcess[str]:
    # -e and the pid keep nginx's startup error log and pid file inside the prefix, away from /var.
    return subprocess.run(
        [
            *(_nginx_binary(), "-t", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")),
            *("-e", str(prefix / "error.log"), "-g", f"pid {prefix / 'nginx.pid'};"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_nginx_config_passes_nginx_t(nginx_prefix: Path) -> None:
    result = _nginx_t(nginx_prefix)
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


def test_nginx_t_catches_a_broken_config(nginx_prefix: Path) -> None:
    conf = nginx_prefix / "nginx.conf"
    conf.write_text(conf.read_text().replace("proxy_request_buffering off;", "proxy_request_buffering of;", 1))
    result = _nginx_t(nginx_prefix)
    assert result.returncode != 0 and "proxy_request_buffering" in result.stderr, result.stderr


def _location(config: str, spec: str) -> str:
    """The body of `location <spec> { ... }` (the config has no braces inside strings)."""
    match = re.search(rf"location\s+{re.escape(spec)}\s*\{{", config)
    assert match, f"no `location {spec}` in nginx.conf"
    depth, start = 1, match.end()
    for i in range(start, len(config)):
        depth += {"{": 1, "}": -1}.get(config[i], 0)
        if depth == 0:
            return config[start:i]
    raise AssertionError(f"unclosed location {spec}")


def test_nginx_limits_and_routes_match_the_requirements() -> None:
    config = (NGINX_DIR / "nginx.conf").read_text()
    proxy = (NGINX_DIR / "snippets" / "gateway-proxy.conf").read_text()
    assert re.search(r"^proxy_pass \$gateway;", proxy, re.MULTILINE)
    assert "set $gateway http://gateway:8000;" in config
    for zone in ("api", "login", "webhooks"):
        assert re.search(rf"limit_req_zone \S+ zone={zone}:", config), f"no limit_req zone {zone}"
    assert re.search(r"^\s*client_max_body_size \d+[km];", config, re.MULTILINE), "no general body limit"

    webhooks = _location(config, "/api/v1/webhooks/")
    assert "proxy_request_buffering off;" in webhooks
    assert "limit_req zone=webhooks" in webhooks and "client_max_body_size" in webhooks
    assert "limit_req zone=login" in _location(config, "= /api/v1/auth/login")
    assert "client_max_body_size 20m;" in _location(config, "/api/v1/knowledge")
    for spec in ("/api/", "/docs", "= /openapi.json", "/asyncapi"):
        assert "include snippets/gateway-proxy.conf;" in _location(config, spec), f"{spec} not proxied"
    assert "ssl_certificate" in config and "listen 443 ssl" in config
    assert "root /usr/share/nginx/html;" in config
