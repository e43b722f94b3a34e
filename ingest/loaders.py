"""Read files into documents: plain text plus title, date and a doc-type hint.

Each loader returns the document's text exactly as chunk offsets refer to it: for
.txt/.md it is the decoded file, for HTML, PDF and JSON the extracted text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import IngestError

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
FEED_SUFFIXES = {".json", ".jsonl"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES | {".pdf"}

NEWS_HEADER = re.compile(r"^\s*date (\d{4}-\d{2}-\d{2}) (.+?)\s*$")
ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})-(\d{2})-(\d{2})(?!\d)")
MONTHS = "january february march april may june july august september october november december".split()
# "March 3, 2017", and as search snippets and datelines abbreviate it, "Oct 20, 2021" / "Sept. 5, 2019".
_MONTH_NUMBER = {f.capitalize(): i + 1 for i, m in enumerate(MONTHS) for f in (m, m[:3])} | {"Sept": 9}
WRITTEN_DATE = re.compile(
    r"\b(" + "|".join(sorted(_MONTH_NUMBER, key=len, reverse=True)) + r")\.?\s+(\d{1,2}),\s+((?:19|20)\d{2})\b"
)


@dataclass
class LoadedDoc:
    """A document read from a file (a feed file yields several)."""

    key: str  # unique per document: the path, or path#record for feed records
    source: str  # the file the document came from
    text: str
    # The title the document itself states; '' when it states none. A file name is shown to
    # people (every citation names the file) but never read as content: in a benchmark corpus
    # it can carry the label ('q007-pos-0.txt').
    title: str
    date: str = ""
    doc_type_hint: str = ""
    body_start: int = 0  # offset where the body starts (after a metadata header line)
    warnings: list[str] = field(default_factory=list)


def load_file(path: Path) -> list[LoadedDoc]:
    """Load one file; raises IngestError with a one-line reason if it cannot be used."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(f"unsupported file type '{suffix or path.name}' (supported: {', '.join(sorted(SUPPORTED))})")
    try:
        raw = path.read_bytes()
    except PermissionError:
        raise IngestError("permission denied: make the file readable (chmod +r) and ingest again") from None
    except OSError as exc:
        raise IngestError(
            f"cannot read the file ({exc.strerror or exc}); check it exists and is a regular file"
        ) from None
    if not raw.strip():
        raise IngestError("empty file: nothing to ingest")
    if suffix == ".pdf":
        return [_pdf(path, raw)]
    text, warnings = decode_text(raw)
    if suffix in HTML_SUFFIXES:
        docs = [_html(path, text)]
    elif suffix in FEED_SUFFIXES:
        docs = _feed(path, text, suffix)
    else:
        docs = [_plain(path, text)]
    for doc in docs:
        doc.warnings[:0] = warnings
    return docs


def decode_text(raw: bytes) -> tuple[str, list[str]]:
    """Decode bytes as UTF-8 (with or without BOM) or UTF-16 (BOM); refuse binary data.

    Anything else that is mostly printable is read as cp1252/latin-1 with a warning,
    since old news feeds are often in it.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), []
        except UnicodeDecodeError:
            raise IngestError("undecodable UTF-16 text; re-save the file as UTF-8") from None
    if b"\x00" in raw[:8192]:
        raise IngestError("binary data in a text file (NUL bytes); is the extension wrong?")
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        sample = raw[:65536]
        controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
        if controls > len(sample) * 0.01:
            raise IngestError("binary data in a text file; is the extension wrong?") from None
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        return text, [f"not UTF-8 (byte {exc.start}); read as Windows-1252/Latin-1"]


def _plain(path: Path, text: str) -> LoadedDoc:
    first_line, _, _ = text.partition("\n")
    header = NEWS_HEADER.match(first_line)
    if header:
        body_start = len(first_line) + 1
        return LoadedDoc(str(path), str(path), text, header.group(2), header.group(1), "news", body_start)
    title = _law_title(text) or _title_from_text(text)
    return LoadedDoc(str(path), str(path), text, title, find_date(text, path))


LAW_TITLE = re.compile(r"(?im)^\W*title\s+(\d+)\b")
LAW_SECTION = re.compile(r"(?m)^\W*§+\s*([\w.–-]+?)\.\s+(.+?)\s*$")


def _law_title(text: str) -> str:
    """'22 U.S.C. § 8929 — Report on ...' for a US Code section with Title and § headings."""
    head = text[:3000]
    title, section = LAW_TITLE.search(head), LAW_SECTION.search(head)
    if not (title and section):
        return ""
    return f"{title.group(1)} U.S.C. § {section.group(1)} — {section.group(2)}"


def _html(path: Path, text: str) -> LoadedDoc:
    from .html import html_to_text

    body, title, date = html_to_text(text)
    if not body.strip():
        raise IngestError("HTML has no visible text")
    return LoadedDoc(
        str(path),
        str(path),
        body,
        title or _title_from_text(body),
        date or find_date(body, path),
    )


def _pdf(path: Path, raw: bytes) -> LoadedDoc:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise IngestError("encrypted PDF: save an unencrypted copy and ingest that")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        raise IngestError(f"damaged or truncated PDF ({type(exc).__name__}); re-export it") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text.strip():
        raise IngestError("PDF has no text layer (scanned image?); run OCR first")
    return LoadedDoc(
        str(path),
        str(path),
        text,
        meta_title.strip() or _title_from_text(text),
        find_date(text, path),
    )


TEXT_FIELDS = ("text", "content", "body", "article", "description", "summary")
TITLE_FIELDS = ("title", "headline", "name")
DATE_FIELDS = ("date", "published", "published_at", "pubDate", "publication_date", "datetime", "time")
URL_FIELDS = ("url", "link", "href", "id", "guid")


def _feed(path: Path, text: str, suffix: str) -> list[LoadedDoc]:
    """A JSON/JSONL news feed: one document per record with a text-like field."""
    records: list[tuple[str, Any]] = []
    warnings: list[str] = []
    if suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append((f"line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                warnings.append(f"line {n}: broken JSON ({exc.msg}); line skipped")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IngestError(
                f"broken JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); fix or re-export the file"
            ) from None
        if isinstance(data, dict):
            items = next(
                (v for k in ("items", "articles", "entries", "data", "records") if isinstance(v := data.get(k), list)),
                [data],
            )
        else:
            items = data if isinstance(data, list) else []
        records = [(f"record {i + 1}", item) for i, item in enumerate(items)]
    docs: list[LoadedDoc] = []
    for where, rec in records:
        if not isinstance(rec, dict):
            warnings.append(f"{where}: not an object; skipped")
            continue
        body = next((rec[k] for k in TEXT_FIELDS if isinstance(rec.get(k), str) and rec[k].strip()), None)
        if body is None:
            warnings.append(f"{where}: no text field ({'/'.join(TEXT_FIELDS)}); skipped")
            continue
        title = next((str(rec[k]).strip() for k in TITLE_FIELDS if rec.get(k)), "") or body.strip().split("\n")[0][:80]
        date = next((d for k in DATE_FIELDS if rec.get(k) and (d := normalize_date(str(rec[k])))), "")
        ident = next((str(rec[k]) for k in URL_FIELDS if rec.get(k)), where)
        docs.append(LoadedDoc(f"{path}#{ident}", str(path), body.strip(), title, date, "news"))
    if not docs:
        raise IngestError("feed has no usable records (need objects with a 'text'/'content'/'body' field)")
    docs[0].warnings.extend(warnings)
    return docs


def normalize_date(value: str) -> str:
    """Find a date in a string and return it as YYYY-MM-DD, or ''."""
    iso = ISO_DATE.search(value)
    if iso:
        return iso.group(0)
    written = WRITTEN_DATE.search(value)
    if written:
        month = _MONTH_NUMBER[written.group(1)]
        return f"{written.group(3)}-{month:02d}-{int(written.group(2)):02d}"
    return ""


def find_date(text: str, path: Path) -> str:
    """A publication date from the file name or the text's header (first 300 characters)."""
    return normalize_date(path.name) or normalize_date(text[:300])


def _title_from_text(text: str) -> str:
    for line in text.splitlines()[:20]:
        line = line.strip()
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""
