"""How `make audit` reads pip-audit's report: a finding fails, an unreachable advisory API is never called clean."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "scripts" / "audit_python.py"
spec = importlib.util.spec_from_file_location("audit_python", SCRIPT)
assert spec is not None and spec.loader is not None
audit = importlib.util.module_from_spec(spec)
sys.modules["audit_python"] = audit  # dataclasses look their module up there
spec.loader.exec_module(audit)

SKIPPED = {"name": "uvicorn", "skip_reason": "Dependency not found on PyPI and could not be audited: uvicorn (0.54.0)"}
CLEAN = {"name": "fastapi", "version": "0.165.0", "vulns": []}
VULNERABLE = {
    "name": "jinja2",
    "version": "2.4.1",
    "vulns": [{"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": ["CVE-2019-10906"], "description": "…"}],
}


def test_a_known_vulnerability_fails_and_names_the_package_the_advisory_and_the_fix() -> None:
    verdict = audit.judge({"dependencies": [CLEAN, VULNERABLE], "fixes": []})
    assert verdict.failed
    assert "  vulnerable: jinja2 2.4.1: PYSEC-2019-217 (fixed in 2.10.1)" in verdict.lines()
    assert verdict.lines()[0] == "pip-audit: all 2 packages checked"


def test_every_package_skipped_passes_but_says_nothing_was_checked() -> None:
    verdict = audit.judge({"dependencies": [SKIPPED, {**SKIPPED, "name": "redis"}], "fixes": []})
    assert not verdict.failed
    assert verdict.lines() == [
        "pip-audit: 0 packages checked, 2 NOT checked",
        "pip-audit: the registry's vulnerability API is unavailable here; dependencies NOT checked",
    ]


def test_a_finding_among_skipped_packages_still_fails() -> None:
    verdict = audit.judge({"dependencies": [SKIPPED, VULNERABLE], "fixes": []})
    assert verdict.failed and verdict.lines()[0] == "pip-audit: 1 packages checked, 1 NOT checked"
