"""pip-audit over the installed third-party packages; any known vulnerability fails `make test`.

pip-audit asks PyPI's JSON API about each installed release (`/pypi/<name>/<version>/json`). A registry
that does not serve that API (some mirrors answer 404 for every release) makes pip-audit skip every
package and still print "No known vulnerabilities found" and exit 0. This script reads pip-audit's JSON
report instead and says plainly how many packages were checked: packages it could not check are listed
as NOT checked (the run passes, as `dashboard/scripts/audit.sh` does for npm), and a finding in any
package that was checked always fails. PyPI's advisories carry no severity, so every finding counts.

`python infra/scripts/audit_python.py` (run by `make audit`, part of `make test`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Verdict:
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.findings)

    def lines(self) -> list[str]:
        out = [f"pip-audit: {len(self.checked)} packages checked, {len(self.skipped)} NOT checked"]
        if self.checked and not self.skipped:
            out[0] = f"pip-audit: all {len(self.checked)} packages checked"
        if self.skipped and not self.checked:
            out.append("pip-audit: the registry's vulnerability API is unavailable here; dependencies NOT checked")
        out += [f"  vulnerable: {finding}" for finding in self.findings]
        return out


def judge(report: dict[str, Any]) -> Verdict:
    """What pip-audit's JSON report (`-f json`) says: checked, skipped and vulnerable packages."""
    verdict = Verdict()
    for dep in report.get("dependencies", []):
        name = f"{dep.get('name')} {dep.get('version', '')}".strip()
        if "skip_reason" in dep:
            verdict.skipped.append(name)
            continue
        verdict.checked.append(name)
        for vuln in dep.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
            verdict.findings.append(f"{name}: {vuln.get('id')} (fixed in {fixed})")
    return verdict


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        run = subprocess.run(
            [sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off", "-f", "json",
             "-o", str(report_path)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        try:
            report = json.loads(report_path.read_text())
        except (OSError, ValueError):
            print(run.stderr[-2000:], file=sys.stderr)
            print("pip-audit: no report (the vulnerability API could not be reached); dependencies NOT checked")
            return 0
    verdict = judge(report)
    print("\n".join(verdict.lines()))
    return 1 if verdict.failed else 0


if __name__ == "__main__":
    sys.exit(main())
