"""Parsers per file type. Pure functions on bytes; they run inside the sandboxed child process.

`unstructured` is not used: its text partitioners download a spaCy model from the network at first
use (no network at run time here) and it pulls in a large dependency tree. pypdf, python-docx and the
standard library's csv, json and html.parser cover the accepted types with the same element model.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from typing import Any, ClassVar

from wafaa.ingestion.extraction.schemas import Element, Extracted, ExtractionError, ExtractionLimits

TEXT_TYPES = {"txt", "md", "csv", "json", "html"}


def detect_type(data: bytes, content_type: str) -> str:
    """The file type from its bytes; the declared content type only chooses among text formats."""
    declared = content_type.lower()
    if not data.strip():
        raise ExtractionError("the file is empty")
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx"
    if "pdf" in declared:
        raise ExtractionError("declared as PDF but the content is not a PDF")
    if "word" in declared or "docx" in declared:
        raise ExtractionError("declared as DOCX but the content is not a DOCX (ZIP) file")
    for kind in ("json", "csv", "html", "markdown"):
        if kind in declared:
            return "md" if kind == "markdown" else kind
    head = data.lstrip()[:1]
    if head in (b"{", b"[") and "text/plain" not in declared:
        return "json"
    if data.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "html"
    return "txt"


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM allowed), else Windows-1252/Latin-1; binary content is refused."""
    if b"\x00" in data:
        raise ExtractionError("the file contains binary data (NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(8, len(text) // 100) or text.count("\ufffd") > max(8, len(text) // 50):
        raise ExtractionError("the file contains binary data, not readable text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- PDF ---------------------------------------------------------------------------------------


def _is_heading_line(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return 2 < len(line) <= 60 and bool(letters) and all(c.isupper() for c in letters if c.isascii())


_PRICE_LINE = re.compile(
    r"^(?:(?:AED|Dhs?\.?|د\.?إ\.?|درهم)\s*\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s*(?:AED|Dhs?|درهم))$", re.I
)
_ENDS_WITH_PRICE = re.compile(r"(?:AED|Dhs?\.?|درهم)\s*\d+(?:[.,]\d+)?$", re.I)
_CONTINUES = re.compile(r"^(?:[a-z(]|allergens?:|ingredients?:|serves\b)", re.I)


def _continues(previous: Element | None, line: str, page: int) -> bool:
    """Whether a PDF line carries on the previous text element: a wrapped line, a price, allergens."""
    if previous is None or previous.kind != "text" or previous.page != page:
        return False
    if _ENDS_WITH_PRICE.search(previous.text):  # an item ends with its price
        return False
    if _PRICE_LINE.match(line) or (_CONTINUES.match(line) and not line[:1].isupper()):
        return True
    if line.lower().startswith(("allergens:", "allergen:")):
        return True
    return previous.text[-1:] not in ".!?:؟" and not _is_heading_line(line)


def parse_pdf(data: bytes) -> Extracted:
    """Text per page with pypdf: wrapped lines joined into paragraphs, prices kept with their item,
    upper-case short lines as titles."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("the PDF is password-protected")
        pages = list(reader.pages)
        out = Extracted(page_count=len(pages), file_type="pdf")
        for number, page in enumerate(pages, start=1):
            for line in (page.extract_text() or "").splitlines():
                line = line.strip()
                if not line:
                    continue
                previous = out.elements[-1] if out.elements else None
                if _continues(previous, line, number):
                    assert previous is not None
                    previous.text = f"{previous.text} {line}"
                elif _PRICE_LINE.match(line):
                    out.elements.append(Element("text", line, page=number))
                else:
                    out.elements.append(Element("title" if _is_heading_line(line) else "text", line, page=number))
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, NotImplementedError) as exc:
        raise ExtractionError(f"the PDF is damaged or truncated ({type(exc).__name__})") from exc
    if not out.elements:
        raise ExtractionError("the PDF has no extractable text (scanned images are not supported)")
    return out


# --- DOCX --------------------------------------------------------------------------------------


def check_zip(data: bytes, limits: ExtractionLimits) -> None:
    """Refuse zip bombs from the central directory alone, before anything is decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, NotImplementedError, ValueError) as exc:  # unsupported version, bad name bytes
        raise ExtractionError("the DOCX is not a valid ZIP archive") from exc
    if len(infos) > limits.zip_max_entries:
        raise ExtractionError(f"the DOCX has too many entries ({len(infos)} > {limits.zip_max_entries})")
    total = sum(i.file_size for i in infos)
    if total > limits.zip_max_total_bytes:
        raise ExtractionError(f"the DOCX expands to {total // 2**20} MB, over the limit")
    for info in infos:
        if info.compress_size and info.file_size / info.compress_size > limits.zip_max_ratio and info.file_size > 2**20:
            raise ExtractionError(f"the DOCX entry {info.filename!r} has a suspicious compression ratio (zip bomb)")
    if "word/document.xml" not in {i.filename for i in infos}:
        raise ExtractionError("the ZIP archive is not a Word document")


def parse_docx(data: bytes, limits: ExtractionLimits) -> Extracted:
    """Paragraphs, headings (by style), list items and table rows with their header names."""
    check_zip(data, limits)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise ExtractionError(f"the DOCX cannot be opened ({type(exc).__name__})") from exc
    out = Extracted(file_type="docx")
    body = document.element.body
    row_number = 0
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, document)
            text = para.text.strip()
            if not text:
                continue
            style = (para.style.name if para.style is not None else "") or ""
            if style.startswith("Heading") or style == "Title":
                last = style.split()[-1]  # isdigit() is also true for "²" and "፩", which int() refuses
                level = int(last) if last.isdecimal() and len(last) <= 3 else 1
                out.elements.append(Element("title", text, level=level))
            elif style.startswith("List") or child.find(".//{*}numPr") is not None:
                out.elements.append(Element("item", text))
            else:
                out.elements.append(Element("text", text))
        elif tag == "tbl":
            table = Table(child, document)
            rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
            if not rows:
                continue
            header = rows[0]
            for cells in rows[1:]:
                row_number += 1
                out.elements.append(Element("row", _row_text(header, cells), row=row_number))
    return out


# --- Text formats ------------------------------------------------------------------------------


def _row_text(header: list[str], cells: list[str]) -> str:
    pairs = [(h or f"column {i + 1}", c) for i, (h, c) in enumerate(zip(header, cells, strict=False)) if c]
    return "; ".join(f"{h}: {c}" for h, c in pairs)


def parse_csv(text: str) -> Extracted:
    """One element per data row, `header: value` pairs, the row number kept for citations."""
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    out = Extracted(file_type="csv")
    try:
        rows = csv.reader(io.StringIO(text), dialect)
        header = [h.strip() for h in next(rows, [])]
        for number, cells in enumerate(rows, start=1):
            cells = [c.strip() for c in cells]
            if any(cells):
                out.elements.append(Element("row", _row_text(header, cells), row=number))
    except csv.Error as exc:
        raise ExtractionError(f"the CSV is malformed ({exc})") from exc
    if not out.elements and header:
        out.elements.append(Element("text", ", ".join(header)))
    return out


def _flatten(value: Any, path: str, depth: int, limits: ExtractionLimits, out: list[Element]) -> None:
    if depth > limits.json_max_depth:
        raise ExtractionError(f"the JSON is nested deeper than {limits.json_max_depth} levels")
    if isinstance(value, dict):
        if path and any(isinstance(v, dict | list) for v in value.values()) and depth <= 2:
            out.append(Element("title", path, level=depth))
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), depth + 1, limits, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", depth + 1, limits, out)
    else:
        out.append(Element("item", f"{path}: {'' if value is None else value}"))


def parse_json(text: str, limits: ExtractionLimits) -> Extracted:
    """Flattened into `path: value` lines; top-level sections become titles."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise ExtractionError("the JSON is nested too deeply") from exc
    except json.JSONDecodeError as exc:
        raise ExtractionError(f"the JSON is invalid (line {exc.lineno}, column {exc.colno})") from exc
    except ValueError as exc:  # an integer over Python's 4,300-digit conversion limit
        raise ExtractionError("the JSON has a number too long to read") from exc
    out = Extracted(file_type="json")
    try:
        _flatten(value, "", 0, limits, out.elements)
    except RecursionError as exc:
        raise ExtractionError("the JSON is nested too deeply") from exc
    return out


_SEPARATOR = re.compile(r"^\s*([=\-_*#~])\1{2,}\s*$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")


def _is_text_title(line: str) -> bool:
    stripped = line.strip()
    if len(stripped) > 150:
        return False
    # FAQ questions (Latin or Arabic question mark) start their own chunk with their answer
    return stripped.endswith(("?", "؟")) or _is_heading_line(stripped)


def parse_plain(text: str, markdown: bool = False) -> Extracted:
    """Paragraphs, list items and titles (markdown `#`, underlined, upper-case or question lines)."""
    out = Extracted(file_type="md" if markdown else "txt")
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.elements.append(Element("text", " ".join(paragraph)))
            paragraph.clear()

    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or _SEPARATOR.match(stripped):
            flush()
            continue
        heading = _MD_HEADING.match(stripped) if markdown else None
        if heading:
            flush()
            out.elements.append(Element("title", heading.group(2).strip(), level=len(heading.group(1))))
        elif _is_text_title(stripped) and (not paragraph or _is_heading_line(stripped)):
            flush()
            out.elements.append(Element("title", stripped))
        elif _LIST_ITEM.match(line):
            flush()
            out.elements.append(Element("item", stripped))
        else:
            paragraph.append(stripped)
    flush()
    return out


class _HTMLElements(HTMLParser):
    BLOCKS: ClassVar[set[str]] = {"p", "div", "section", "article", "br", "td", "th", "pre", "blockquote"}
    SKIP: ClassVar[set[str]] = {"script", "style", "head", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[Element] = []
        self.buffer: list[str] = []
        self.kind: str = "text"
        self.level = 1
        self.skipping = 0

    def _flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        if text:
            self.out.append(Element(self.kind, text, level=self.level))  # type: ignore[arg-type]
        self.buffer.clear()
        self.kind, self.level = "text", 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self.kind, self.level = "title", int(tag[1])
        elif tag in ("li", "tr"):
            self._flush()
            self.kind = "item" if tag == "li" else "row"
        elif tag in ("td", "th"):
            self.buffer.append(" | ")
        elif tag in self.BLOCKS and self.kind == "text":
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in ("li", "tr", "p", "div"):
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.buffer.append(data)


def parse_html(text: str) -> Extracted:
    """Headings, paragraphs, list items and table rows, scripts and styles dropped."""
    parser = _HTMLElements()
    try:
        parser.feed(text)
        parser.close()
    except AssertionError as exc:  # html.parser's reaction to a malformed `<![...` marked section
        raise ExtractionError(f"the HTML is malformed ({exc})") from exc
    parser._flush()
    rows = 0
    for element in parser.out:
        if element.kind == "row":
            rows += 1
            element.row = rows
            element.text = element.text.strip(" |")
    return Extracted(elements=parser.out, file_type="html")


def parse(data: bytes, content_type: str, limits: ExtractionLimits) -> Extracted:
    """Detect the type and parse; ExtractionError with a readable reason for anything unusable."""
    if len(data) > limits.max_file_bytes:
        raise ExtractionError(f"the file is larger than {limits.max_file_bytes // 2**20} MB")
    kind = detect_type(data, content_type)
    if kind == "pdf":
        result = parse_pdf(data)
    elif kind == "docx":
        result = parse_docx(data, limits)
    else:
        text = decode_text(data)
        if kind == "json":
            result = parse_json(text, limits)
        elif kind == "csv":
            result = parse_csv(text)
        elif kind == "html":
            result = parse_html(text)
        else:
            result = parse_plain(text, markdown=kind == "md")
    if not any(e.text.strip() for e in result.elements):
        raise ExtractionError("the file has no text to index")
    return result
