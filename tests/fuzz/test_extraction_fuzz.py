"""Fuzzing document extraction: any uploaded bytes end as elements or as `ExtractionError`.

`parse` promises a readable `ExtractionError` for anything unusable (the ingestion service stores it
as the `failed` document's reason); the sandbox adds a wall-clock timeout and a memory cap around it.
Seeds are small valid files of every accepted type, built here; mutations are the classic byte-level
ones (truncation, flips, insertions, deletions, duplicated chunks).
"""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
import zlib
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.fixtures.pdf import write_pdf
from wafaa.ingestion.extraction.parsers import detect_type, parse
from wafaa.ingestion.extraction.sandbox import extract_isolated
from wafaa.ingestion.extraction.schemas import Extracted, ExtractionError, ExtractionLimits

pytestmark = pytest.mark.fuzz

LIMITS = ExtractionLimits()
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": DOCX_TYPE,
    "txt": "text/plain",
    "md": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
    "html": "text/html",
}
FILE_TYPES = {"pdf", "docx", "txt", "md", "csv", "json", "html"}


# --- seeds -----------------------------------------------------------------------------------------


def pdf(lines: list[str], compress: bool = False) -> bytes:
    """A one-page PDF drawing `lines` in Helvetica, with a correct xref table."""
    text = " 0 -16 Td ".join(f"({line}) Tj" for line in lines)
    content = f"BT /F1 12 Tf 72 720 Td {text} ET".encode("latin-1")
    stream_dict = b"<< /Length %d >>" % len(content)
    if compress:
        content = zlib.compress(content)
        stream_dict = b"<< /Length %d /Filter /FlateDecode >>" % len(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        stream_dict + b"\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return write_pdf(objects)


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _paragraph(text: str, style: str | None = None, numbered: bool = False) -> str:
    props = ""
    if style or numbered:
        inner = (f'<w:pStyle w:val="{style}"/>' if style else "") + (
            '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>' if numbered else ""
        )
        props = f"<w:pPr>{inner}</w:pPr>"
    return f"<w:p>{props}<w:r><w:t>{text}</w:t></w:r></w:p>"


def _table(rows: list[list[str]]) -> str:
    body = "".join(
        "<w:tr>" + "".join(_paragraph(c).join(("<w:tc>", "</w:tc>")) for c in row) + "</w:tr>" for row in rows
    )
    return f"<w:tbl>{body}</w:tbl>"


def docx(body_xml: str, styles: dict[str, str] | None = None) -> bytes:
    """A Word document from its body XML; `styles` maps style ids to their display names."""
    styles = {"Heading1": "heading 1", "ListBullet": "List Bullet", **(styles or {})}
    style_xml = "".join(
        f'<w:style w:type="paragraph" w:styleId="{sid}"><w:name w:val="{name}"/></w:style>'
        for sid, name in styles.items()
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            '<Override PartName="/word/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/_rels/document.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/styles" Target="styles.xml"/></Relationships>'
        ),
        "word/styles.xml": f'<?xml version="1.0" encoding="UTF-8"?><w:styles {W}>{style_xml}</w:styles>',
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><w:document {W}><w:body>{body_xml}</w:body></w:document>'
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


DOCX_BODY = (
    _paragraph("OPENING HOURS", "Heading1")
    + _paragraph("We open every day from 9 to 23.")
    + _paragraph("Free parking", "ListBullet")
    + _paragraph("Wi-Fi", numbered=True)
    + _table([["Branch", "Phone"], ["Marina", "+971 4 000 0000"], ["Deira", ""]])
)
SEEDS: dict[str, tuple[bytes, str]] = {
    "pdf": (pdf(["MENU", "Hummus with bread", "AED 25", "Allergens: sesame"]), CONTENT_TYPES["pdf"]),
    "pdf-flate": (pdf(["STARTERS", "Lentil soup (vegan) Dhs 18"], compress=True), CONTENT_TYPES["pdf"]),
    "docx": (docx(DOCX_BODY), DOCX_TYPE),
    "txt": (b"FAQ\n\nDo you deliver?\nYes, within 5 km.\n\n- cash\n- card\n", CONTENT_TYPES["txt"]),
    "md": ("# Policies\n\nRefunds within 7 days.\n\n## Hours\n1. Mon-Fri\n---\nمرحبا\n".encode(), CONTENT_TYPES["md"]),
    "csv": (b"name,city,phone\nMarina,Dubai,+971\nDeira;x,Dubai,\n", CONTENT_TYPES["csv"]),
    "json": (
        json.dumps({"menu": {"mains": [{"name": "Kebab", "price": 42}]}, "open": True}).encode(),
        "application/json",
    ),
    "html": (
        b"<!doctype html><html><head><style>p{}</style></head><body><h1>Menu</h1><p>Soup &amp; bread</p>"
        b"<ul><li>Tea</li></ul><table><tr><th>Item</th><th>Price</th></tr><tr><td>Tea</td><td>5</td></tr>"
        b"</table><script>x()</script></body></html>",
        CONTENT_TYPES["html"],
    ),
}


def test_every_seed_is_a_valid_document_of_its_type() -> None:
    """The seeds really exercise each parser (a broken seed would only fuzz the error paths)."""
    for name, (data, content_type) in SEEDS.items():
        result = parse(data, content_type, LIMITS)
        assert result.file_type == name.split("-")[0], name
        assert any(e.text.strip() for e in result.elements), name
    titles = [e.text for e in parse(*SEEDS["docx"], LIMITS).elements if e.kind == "title"]
    assert titles == ["OPENING HOURS"]


# --- strategies ------------------------------------------------------------------------------------


@st.composite
def byte_mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` after one to four edits: truncate, flip bits, insert, delete or duplicate a chunk."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["truncate", "flip", "flip", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "truncate":
            del data[at:]
        elif action == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(INTERESTING))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif action == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 256))] * draw(st.integers(1, 8))
    return bytes(data)


# Tokens that steer parsers into their rarer branches (the fuzzing "dictionary").
INTERESTING = [
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\r",
    b'"',
    b"[[[[[[[[",
    b"9" * 5_000,
    b"<![CDATA[",
    b"<!--",
    b"obj",
    b"endobj",
    b"stream\n",
    b"/Filter /FlateDecode",
    b"/Count 999999999",
    b"R",
    b"-1",
    b"1e400",
    b"PK\x03\x04",
]

seeded = st.sampled_from(sorted(SEEDS)).flatmap(
    lambda name: st.tuples(byte_mutations(SEEDS[name][0]), st.just(SEEDS[name][1]))
)
declared_types = st.sampled_from([*CONTENT_TYPES.values(), "application/octet-stream", ""]) | st.text(max_size=30)


def parse_or_extraction_error(data: bytes, content_type: str) -> Extracted | None:
    """The elements, or None when refused with the documented `ExtractionError` (anything else fails)."""
    try:
        result = parse(data, content_type, LIMITS)
    except ExtractionError as error:
        assert str(error), "the failure reason shown to the admin is empty"
        return None
    assert isinstance(result, Extracted)
    assert result.file_type in FILE_TYPES
    assert any(e.text.strip() for e in result.elements)
    return result


# --- properties ------------------------------------------------------------------------------------


@given(st.binary(max_size=2_000), declared_types)
@example(b"%PDF-", "application/pdf")
@example(b"PK\x03\x04", DOCX_TYPE)
@example(b"[" * 5_000, "application/json")
def test_arbitrary_bytes_parse_or_fail_with_extraction_error(data: bytes, content_type: str) -> None:
    """Random bytes under any declared type: elements or a readable `ExtractionError`, nothing else."""
    parse_or_extraction_error(data, content_type)


@given(st.binary(max_size=2_000), declared_types)
def test_detect_type_trusts_magic_bytes_and_names_only_supported_types(data: bytes, content_type: str) -> None:
    """Detection never guesses a type the parsers do not handle, and the magic bytes beat the declared type."""
    try:
        kind = detect_type(data, content_type)
    except ExtractionError:
        return
    assert kind in FILE_TYPES
    assert (kind == "pdf") == data.startswith(b"%PDF-")
    assert (kind == "docx") == data.startswith(b"PK\x03\x04")


def _central_directory_patched(data: bytes, offset: int, value: bytes) -> bytes:
    """`data` (a ZIP) with bytes at `offset` of its first central directory record replaced."""
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + value + data[at + len(value) :]


# Findings of this suite, each a minimal case of a crash it fixed (they must keep failing cleanly):
PDF_UNKNOWN_FILTER = SEEDS["pdf-flate"][0].replace(b"/Filter /FlateDecode", b"/Filter 0.0")  # NotImplementedError
PDF_LONG_NUMBER = SEEDS["pdf"][0].replace(b"xref\n0 6", b"xref\n0 " + b"6" * 100)  # pypdf LimitReachedError
ZIP_VERSION_84 = _central_directory_patched(SEEDS["docx"][0], 6, b"\x54\x00")  # NotImplementedError
ZIP_BAD_UTF8_NAME = _central_directory_patched(  # UTF-8 flag on a name that is not UTF-8: UnicodeDecodeError
    _central_directory_patched(SEEDS["docx"][0], 8, b"\x00\x08"), 46, b"\xff"
)


@settings(max_examples=4 * settings().max_examples)
@given(seeded)
@example((PDF_UNKNOWN_FILTER, "application/pdf"))
@example((PDF_LONG_NUMBER, "application/pdf"))
@example((ZIP_VERSION_84, DOCX_TYPE))
@example((ZIP_BAD_UTF8_NAME, DOCX_TYPE))
@example((b"[" + b"9" * 5_000 + b"]", "application/json"))  # ValueError: int over 4,300 digits
@example((b"<![A[x]]>", "text/html"))  # html.parser AssertionError
@example((b"<p>a</p><![<", "text/html"))  # html.parser AssertionError
def test_mutated_valid_documents_parse_or_fail_with_extraction_error(case: tuple[bytes, str]) -> None:
    """Truncated, bit-flipped and spliced PDF/DOCX/TXT/MD/CSV/JSON/HTML: elements or `ExtractionError`."""
    parse_or_extraction_error(*case)


@st.composite
def word_documents(draw: st.DrawFn) -> bytes:
    """Valid DOCX archives with arbitrary style names, paragraph texts and table shapes."""
    numberish = st.text(alphabet=st.characters(categories=["Nd", "No", "Zs"]), min_size=1, max_size=6)
    name = draw(st.one_of(st.text(max_size=20), st.builds(lambda t: f"Heading {t}", numberish), st.just("Title")))
    text = st.text(alphabet=st.characters(exclude_categories=["Cs", "Cc"]), max_size=30).map(_xml_escape)
    cells = st.lists(st.lists(text, min_size=0, max_size=4), min_size=0, max_size=4)
    body = draw(st.lists(st.one_of(text.map(lambda t: _paragraph(t, "Custom")), cells.map(_table)), max_size=5))
    return docx("".join([_paragraph("x", "Custom"), *body]), {"Custom": _xml_escape(name)})


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@given(word_documents())
@example(docx(_paragraph("x", "Custom"), {"Custom": "Heading \u1369"}))  # found: "፩".isdigit(), int() refuses
@example(docx(_paragraph("x", "Custom"), {"Custom": "Heading \u00b2"}))  # "²", same
@example(docx(_paragraph("x", "Custom"), {"Custom": "Heading " + "9" * 5_000}))  # over int()'s digit limit
def test_word_documents_with_odd_styles_and_tables_parse_or_fail_with_extraction_error(data: bytes) -> None:
    """Well-formed DOCX with any style names and ragged tables: elements or `ExtractionError`."""
    parse_or_extraction_error(data, DOCX_TYPE)


# --- the sandbox: hostile shapes under a wall-clock bound -------------------------------------------


HOSTILE: dict[str, Callable[[], tuple[bytes, str]]] = {
    "json 50,000 deep": lambda: (b"[" * 50_000 + b"]" * 50_000, "application/json"),
    "pdf with a 20,000-deep array": lambda: (
        pdf(["x"]).replace(b"/Count 1", b"/Count 1 /Deep " + b"[" * 20_000 + b"]" * 20_000),
        "application/pdf",
    ),
    "docx claiming 4 GB uncompressed": lambda: (
        _central_directory_patched(SEEDS["docx"][0], 24, struct.pack("<I", 2**32 - 1)),
        DOCX_TYPE,
    ),
    "csv of one 2 MB field": lambda: (b'"' + b"a" * 2**21, "text/csv"),
    "html of 100,000 open tags": lambda: (b"<div>" * 100_000 + b"x", "text/html"),
    "valid docx (control)": lambda: SEEDS["docx"],
}


SANDBOX_LIMITS = ExtractionLimits(timeout_seconds=20.0, memory_mb=1024)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_in_the_sandbox_end_within_the_timeout(name: str) -> None:
    """Each hostile shape comes back before the sandbox's deadline as elements or a reason of the parser's
    own (not the child's catch-all for an unexpected exception, nor a crash of the child)."""
    data, content_type = HOSTILE[name]()
    started = time.monotonic()
    try:
        result: Extracted | ExtractionError = extract_isolated(data, content_type, SANDBOX_LIMITS)
    except ExtractionError as error:
        result = error
    elapsed = time.monotonic() - started
    assert elapsed < SANDBOX_LIMITS.timeout_seconds + 6, f"{name} took {elapsed:.1f}s"
    if isinstance(result, ExtractionError):
        assert not str(result).startswith(("the file could not be parsed", "the parser crashed")), result
        assert "control" not in name, result
    else:
        assert any(e.text.strip() for e in result.elements)


def test_the_sandbox_timeout_stops_a_parse_that_runs_too_long() -> None:
    """A parse longer than `timeout_seconds` is abandoned with `ExtractionError`, promptly."""
    limits = ExtractionLimits(timeout_seconds=0.05)
    started = time.monotonic()
    with pytest.raises(ExtractionError, match="longer than"):
        extract_isolated(b"word " * (4 * 2**20) + b"\n" * 2**20, "text/plain", limits)
    assert time.monotonic() - started < 6
