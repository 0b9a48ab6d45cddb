"""Boundaries a newcomer can rely on: who may import whom, and where SQL lives."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
SQL_BUILDERS = {"select", "insert", "update", "delete", "text"}


def python_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "/migrations/versions/" not in p.as_posix()]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_there_are_five_services() -> None:
    assert SERVICES == ["analytics", "channels", "gateway", "ingestion", "rag"]


def test_services_never_import_each_other() -> None:
    offenders = []
    for service in SERVICES:
        for path in python_files(ROOT / "services" / service):
            for module in imported_modules(path):
                for other in SERVICES:
                    if other != service and (module == f"wafaa.{other}" or module.startswith(f"wafaa.{other}.")):
                        offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_common_imports_no_service() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files(ROOT / "libs" / "common")
        for module in imported_modules(path)
        if any(module == f"wafaa.{s}" or module.startswith(f"wafaa.{s}.") for s in SERVICES)
    ]
    assert offenders == []


def test_sql_is_built_only_in_repositories_and_the_shared_db_layer() -> None:
    """Every query starts from a tenant-scoped repository; nothing else builds SQL."""
    offenders = []
    for service in SERVICES:
        for path in python_files(ROOT / "services" / service):
            # models.py declares tables (a partial index predicate is SQL text, not a query)
            if path.name in {"repository.py", "models.py", "env.py"} or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlalchemy"):
                    names = {a.name for a in node.names} & SQL_BUILDERS
                    if names:
                        offenders.append(f"{path.relative_to(ROOT)} imports {sorted(names)} from {node.module}")
                if isinstance(node, ast.Attribute) and node.attr == "execute":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} calls .execute")
    assert offenders == []


def test_repositories_derive_from_the_tenant_scoped_base() -> None:
    offenders = []
    for service in SERVICES:
        for path in (ROOT / "services" / service).rglob("repository.py"):
            tree = ast.parse(path.read_text())
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    bases = {ast.unparse(b) for b in node.bases}
                    if not any(b.startswith("TenantRepository") for b in bases):
                        offenders.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert offenders == []
