"""What extraction produces: ordered elements that know where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ElementKind = Literal["title", "text", "item", "row"]


@dataclass
class Element:
    """A piece of a document: a title starts a section; items and rows are never cut."""

    kind: ElementKind
    text: str
    page: int | None = None
    row: int | None = None
    level: int = 1


@dataclass
class Extracted:
    """Every element of one document, in reading order."""

    elements: list[Element] = field(default_factory=list)
    page_count: int | None = None
    file_type: str = ""


class ExtractionError(Exception):
    """The file cannot be indexed; the message is the readable reason shown to the admin."""


@dataclass(frozen=True)
class ExtractionLimits:
    """Caps applied before and while parsing."""

    timeout_seconds: float = 60.0
    memory_mb: int = 1024
    workers: int = 0  # parsing processes; 0: one per CPU
    max_file_bytes: int = 50 * 1024 * 1024
    zip_max_entries: int = 1000
    zip_max_total_bytes: int = 200 * 1024 * 1024
    zip_max_ratio: float = 100.0
    json_max_depth: int = 64
