"""Uploaded files: type detection by content, safe display names, and storage under UPLOADS_DIR."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from uuid import UUID

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain",
    "md": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
    "html": "text/html",
}
STORED_NAME = "original"
_SNIFF_BYTES = 64 * 1024
_MD_LINE = re.compile(r"^(#{1,6} \S|```|[-*+] \S|\d+\. \S|> \S)|\[[^\]]+\]\([^)]+\)", re.MULTILINE)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


class UnsupportedFileError(ValueError):
    """The content is not one of the accepted types (whatever its name says)."""


@dataclass(frozen=True)
class DetectedType:
    file_type: str
    content_type: str


def _is_docx(head: bytes, path: Path) -> bool:
    if not head.startswith(b"PK\x03\x04"):
        return False
    try:
        # Only the central directory is read; nothing is decompressed here (ingestion checks bombs).
        with zipfile.ZipFile(path) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _looks_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    text = sample.decode("utf-8", errors="replace")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    return controls > max(8, len(text) // 100) or text.count("\ufffd") > max(8, len(text) // 20)


def _is_json(path: Path) -> bool:
    raw = path.read_bytes()
    try:
        json.loads(raw.decode("utf-8-sig"))
    except RecursionError:
        return True  # JSON, too deep to read here: ingestion fails it with a reason
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _is_csv(sample: str) -> bool:
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    if len(sample) >= _SNIFF_BYTES:
        lines = lines[:-1]  # the last sampled line may be cut
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), dialect)}
    return len(widths) == 1 and widths.pop() >= 2


def detect_type(path: Path, filename: str) -> DetectedType:
    """The type from the bytes; the name only chooses among text formats (TXT, MD or CSV)."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip():
        raise UnsupportedFileError("The file is empty.")
    stripped = head.lstrip()
    if head[:1024].lstrip().startswith(b"%PDF-") or head.startswith(b"%PDF-"):
        kind = "pdf"
    elif _is_docx(head, path):
        kind = "docx"
    elif _looks_binary(head):
        raise UnsupportedFileError("The file is not a PDF, DOCX, TXT, MD, CSV, JSON or HTML document.")
    elif stripped[:1] in (b"{", b"[") and _is_json(path):
        kind = "json"
    elif stripped.lstrip(b"\xef\xbb\xbf")[:15].lower().startswith((b"<!doctype html", b"<html")):
        kind = "html"
    else:
        sample = head.decode("utf-8", errors="replace")
        suffix = PurePosixPath(filename.lower()).suffix
        if suffix in (".md", ".markdown") or (suffix != ".txt" and len(_MD_LINE.findall(sample)) >= 3):
            kind = "md"
        elif suffix != ".txt" and _is_csv(sample):
            kind = "csv"
        else:
            kind = "txt"
    return DetectedType(kind, CONTENT_TYPES[kind])


def safe_filename(name: str | None, fallback: str = "document") -> str:
    """The user's name as harmless metadata: no directories, control characters or NULs; short."""
    raw = unicodedata.normalize("NFC", name or "")
    base = PureWindowsPath(PurePosixPath(raw.replace("\x00", "")).name).name
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    if not base:
        base = fallback
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:200]
    return base


def ascii_filename(name: str) -> str:
    """An ASCII-only stand-in for old clients' `filename=` in Content-Disposition."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]+", "_", ascii_name).strip(" .") or "document"
    return ascii_name


class FileStore:
    """Files under `root/{tenant_id}/{document_id}/original`; paths are generated, never taken from users."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def storage_path(self, tenant_id: UUID, document_id: UUID) -> str:
        """The path relative to the root, as ingestion reads it."""
        return f"{tenant_id}/{document_id}/{STORED_NAME}"

    def absolute(self, storage_path: str) -> Path:
        """The file on disk; a path escaping the root is refused."""
        root = self.root.resolve()
        target = (root / storage_path).resolve()
        if not target.is_relative_to(root):
            raise ValueError("storage path escapes the uploads directory")
        return target

    def save(self, tenant_id: UUID, document_id: UUID, source: Path) -> str:
        """Move a fully received temporary file into place; its storage path."""
        storage_path = self.storage_path(tenant_id, document_id)
        target = self.absolute(storage_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), target)
        os.chmod(target, 0o640)
        return storage_path

    def remove(self, storage_path: str) -> None:
        """Delete a document's folder (idempotent)."""
        target = self.absolute(storage_path)
        shutil.rmtree(target.parent, ignore_errors=True)
