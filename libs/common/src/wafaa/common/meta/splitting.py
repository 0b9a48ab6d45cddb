"""Splitting long replies at natural boundaries under each platform's limit."""

from __future__ import annotations

import re
from collections.abc import Callable

WHATSAPP_LIMIT_CHARS = 4096
INSTAGRAM_LIMIT_BYTES = 1000

_BOUNDARIES = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?؟。])\s+"), re.compile(r"\s+"))


def split_message(text: str, platform: str) -> list[str]:
    """Parts that each fit the platform: WhatsApp 4,096 characters, Instagram 1,000 UTF-8 bytes."""
    if platform == "instagram":
        return _split(text.strip(), lambda s: len(s.encode("utf-8")) <= INSTAGRAM_LIMIT_BYTES)
    return _split(text.strip(), lambda s: len(s) <= WHATSAPP_LIMIT_CHARS)


def _split(text: str, fits: Callable[[str], bool]) -> list[str]:
    if fits(text):
        return [text] if text else []
    for boundary in _BOUNDARIES:
        pieces = [p for p in boundary.split(text) if p.strip()]
        if len(pieces) < 2:
            continue
        separator = "\n\n" if boundary is _BOUNDARIES[0] else ("\n" if boundary is _BOUNDARIES[1] else " ")
        parts: list[str] = []
        current = ""
        for piece in pieces:
            candidate = f"{current}{separator}{piece}" if current else piece
            if fits(candidate):
                current = candidate
                continue
            if current:
                parts.append(current)
            if fits(piece):
                current = piece
            else:
                parts.extend(_split(piece, fits))
                current = ""
        if current:
            parts.append(current)
        return [p.strip() for p in parts if p.strip()]
    return _hard_cut(text, fits)


def _hard_cut(text: str, fits: Callable[[str], bool]) -> list[str]:
    parts: list[str] = []
    start = 0
    while start < len(text):
        end = len(text)
        while not fits(text[start:end]):
            end = start + max(1, (end - start) * 3 // 4)
        while end < len(text) and fits(text[start : end + 1]):
            end += 1
        parts.append(text[start:end])
        start = end
    return parts
