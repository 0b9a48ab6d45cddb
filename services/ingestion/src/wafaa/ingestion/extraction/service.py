"""Reading an uploaded file safely and extracting its elements."""

from __future__ import annotations

from pathlib import Path

from wafaa.ingestion.extraction.sandbox import extract_file_async
from wafaa.ingestion.extraction.schemas import Extracted, ExtractionError, ExtractionLimits


def resolve_upload(uploads_dir: Path, storage_path: str) -> Path:
    """The file under UPLOADS_DIR; a path escaping it (`..`, absolute, symlink out) is refused."""
    if "\x00" in storage_path:
        raise ExtractionError("invalid storage path")
    root = uploads_dir.resolve()
    candidate = (root / storage_path).resolve()
    if not candidate.is_relative_to(root) or candidate == root:
        raise ExtractionError("the storage path is outside the uploads directory")
    if not candidate.is_file():
        raise ExtractionError("the uploaded file is missing from storage")
    return candidate


async def extract_file(uploads_dir: Path, storage_path: str, content_type: str, limits: ExtractionLimits) -> Extracted:
    """Elements of an uploaded file, parsed in a sandboxed worker process."""
    path = resolve_upload(uploads_dir, storage_path)
    if path.stat().st_size > limits.max_file_bytes:
        raise ExtractionError(f"the file is larger than {limits.max_file_bytes // 2**20} MB")
    # The worker reads the file: no thread hop here, and the bytes never sit in the service's memory.
    return await extract_file_async(str(path), content_type, limits)
