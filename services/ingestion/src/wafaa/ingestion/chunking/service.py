"""Chunks from elements: titles start chunks, rows and list items are never cut, text splits at
sentence then word boundaries with overlap, and every chunk keeps its citation location."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wafaa.ingestion.extraction.schemas import Element

_SENTENCE_END = re.compile(r"(?<=[.!?؟。])\s+")


@dataclass
class Chunk:
    """Text to embed and index, with where it came from (page, section, rows)."""

    text: str
    location: dict[str, Any] = field(default_factory=dict)


def _tail(text: str, overlap: int) -> str:
    """The last `overlap` characters, starting at a word boundary."""
    if overlap <= 0 or len(text) <= overlap:
        return text if overlap > 0 else ""
    cut = text[-overlap:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < len(cut) - 1 else cut


def split_text(text: str, size: int, overlap: int) -> list[str]:
    """A long text as pieces of at most `size` characters, each starting with the previous tail."""
    if len(text) <= size:
        return [text]
    units: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if len(sentence) <= size:
            units.append(sentence)
            continue
        for word in sentence.split(" "):
            # a single "word" longer than a chunk (a 5 MB line without spaces) is cut hard
            units.extend(word[i : i + size] for i in range(0, max(len(word), 1), size))
    pieces: list[str] = []
    current = ""
    for unit in units:
        if current and len(current) + 1 + len(unit) > size:
            pieces.append(current)
            tail = _tail(current, overlap)
            current = f"{tail} {unit}" if tail and len(tail) + 1 + len(unit) <= size else unit
        else:
            current = f"{current} {unit}" if current else unit
    if current:
        pieces.append(current)
    return pieces


class _Builder:
    def __init__(self, size: int, overlap: int) -> None:
        self.size, self.overlap = size, overlap
        self.chunks: list[Chunk] = []
        self.titles: dict[int, str] = {}
        self.parts: list[str] = []
        self.length = 0
        self.has_body = False
        self.location: dict[str, Any] = {}
        self.last_kind = ""

    @property
    def section(self) -> str:
        return " > ".join(self.titles[level] for level in sorted(self.titles))

    def flush(self) -> None:
        if self.parts and self.has_body:
            self.chunks.append(Chunk("\n".join(self.parts), self.location))
        self.parts, self.length, self.has_body, self.location = [], 0, False, {}

    def _track(self, element: Element) -> None:
        if "section" not in self.location and self.section:
            self.location["section"] = self.section
        for key, value in (("page", element.page), ("row", element.row)):
            if value is None:
                continue
            if key not in self.location:
                self.location[key] = value
            elif value != self.location[key]:
                self.location[f"{key}_end"] = value

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text) + 1

    def title(self, element: Element) -> None:
        if self.has_body:
            self.flush()
        for level in [lv for lv in self.titles if lv >= element.level]:
            del self.titles[level]
        self.titles[element.level] = element.text[: self.size]
        if not self.parts:
            self.location = {}
        self._track(element)
        self.location["section"] = self.section
        self._append(element.text[: self.size])

    def body(self, element: Element, piece: str) -> None:
        if self.has_body and self.length + len(piece) > self.size:
            carry = _tail(self.parts[-1], self.overlap) if self.last_kind == "text" else ""
            self.flush()
            heading = self.titles[max(self.titles)] if self.titles else ""
            # continuation chunks repeat their heading so they still match questions about the section
            if heading and len(heading) <= self.size // 4:
                self._append(heading)
            if carry and self.length + len(carry) + len(piece) <= self.size:
                self._append(carry)
        self._track(element)
        self._append(piece)
        self.has_body = True
        self.last_kind = element.kind


def chunk_elements(elements: list[Element], size: int = 400, overlap: int = 50) -> list[Chunk]:
    """Element-aware chunks of at most about `size` characters (a whole row or item may exceed it)."""
    size = max(size, 50)
    overlap = max(0, min(overlap, size // 2))
    builder = _Builder(size, overlap)
    for element in elements:
        text = element.text.strip()
        if not text:
            continue
        if element.kind == "title":
            builder.title(element)
        elif element.kind in ("row", "item") and len(text) <= size * 4:
            builder.body(element, text)
        else:
            for piece in split_text(text, size, overlap):
                builder.body(element, piece)
    builder.flush()
    return builder.chunks
