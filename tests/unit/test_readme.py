"""The README's configuration table lists every setting a service reads."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from wafaa.common.config import CommonSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "ingestion", "rag", "channels", "analytics")


def documented_variables() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))


def test_every_setting_of_every_service_is_in_the_readme_table() -> None:
    fields: set[str] = set(CommonSettings.model_fields)
    for service in SERVICES:
        module = importlib.import_module(f"wafaa.{service}.config")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, CommonSettings):
                fields |= set(value.model_fields)
    missing = sorted(f.upper() for f in fields - {"service_name"} if f.upper() not in documented_variables())
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make up" in readme and "make test" in readme
