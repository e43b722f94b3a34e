"""Structure-aware chunking: treaties by Article/Section/paragraph, statutes by §/(a),
news by paragraph.

A chunk never spans two sections (Articles, §§, Annexes) and the first chunk of a
section starts at its heading, so a heading is never cut off from its body. Every
chunk is a contiguous span of the document text, so its offsets can be shown and
checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEP = " › "

# Heading kinds and their rank in the section path (lower = outer).
_KINDS: list[tuple[int, re.Pattern[str]]] = [
    (1, re.compile(r"^(annex|bijlage|protocol|part|chapter|subtitle|title)\b", re.I)),
    (3, re.compile(r"^(article|art\.)\s+[\divxlc]+\b", re.I)),
    (3, re.compile(r"^§+\s*\d")),
    (4, re.compile(r"^section\s+[\divxlc]+\b", re.I)),
    (5, re.compile(r"^\([a-z]\)\s", re.I)),
]
MD_HEADING = re.compile(r"^(#{1,6})\s*(\S.*?)\s*#*\s*$")
PLAIN_HEADING = re.compile(
    r"^\s*((?:ARTICLE|Article)\s+[IVXLC\d]+\b.{0,80}|§+\s*\d[\w.-]*.{0,120}|(?:ANNEX|PROTOCOL|SECTION)\b.{0,80})\s*$"
)
PARA_LABEL = re.compile(r"^\s*(\d{1,3}\.(?!\d)|\(\d{1,3}\)|\([A-Z]{1,3}\)|\([a-z]{1,4}\)|[A-Z]\.(?=\s))")
SENTENCE_END = re.compile(r"(?<=[.!?;])[\"”’)]?\s+(?=[\"“(]?[A-Z0-9])")


@dataclass
class Chunk:
    start: int
    end: int
    section: str
    text: str


@dataclass
class _Para:
    start: int
    end: int
    label: str


@dataclass
class _Section:
    path: list[str]
    head_start: int | None  # offset of the heading run, if any
    paras: list[_Para]


def _heading(line: str) -> tuple[int, str] | None:
    """(markdown level or 0, heading text) if the line is a heading."""
    md = MD_HEADING.match(line)
    if md:
        return len(md.group(1)), md.group(2).strip()
    plain = PLAIN_HEADING.match(line)
    if plain and len(line.strip()) < 100 and not line.rstrip().endswith((".", ";", ",")):
        return 0, plain.group(1).strip()
    return None


def _rank(text: str) -> int | None:
    """The rank of a recognised heading kind (Annex 1, Article 3, Section 4, (a) 5), else None."""
    for rank, pattern in _KINDS:
        if pattern.match(text):
            return rank
    return None


def _clean_label(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    # "§ 8929. Report on ..." -> "§ 8929" keeps paths short; the title is in the heading text.
    sec = re.match(r"^(§+\s*[\w.-]+?)\.?\s", text + " ")
    if sec and text.startswith("§"):
        return sec.group(1)
    return text if len(text) <= 60 else text[:57].rstrip() + "…"


def _sections(text: str, body_start: int, title: str) -> list[_Section]:
    """Walk the lines once, keeping a stack of (rank, label) for the current path."""
    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    current = _Section([], None, [])
    pending_head: int | None = None  # start of a heading run not yet followed by body
    head_end = 0
    para: _Para | None = None
    pos = body_start
    for line in text[body_start:].splitlines(keepends=True):
        start, stripped = pos, line.strip()
        pos += len(line)
        if not stripped:
            para = None
            continue
        head = _heading(line)
        if head is not None:
            level, htext = head
            rank = _rank(htext)
            if level == 1 and not sections and not stack and current.paras == [] and htext.strip() == title.strip():
                rank = 0  # the document title itself: already the path's first element
            if rank is None and pending_head is not None and stack:
                # A heading right after a heading is its caption: "Article XV" + "Duration and withdrawal".
                r, label = stack[-1]
                stack[-1] = (r, f"{label} — {_clean_label(htext)}" if "—" not in label else label)
            else:
                if rank is None:
                    rank = 6 + level if level else 6
                if rank > 0:
                    stack = [s for s in stack if s[0] < rank] + [(rank, _clean_label(htext))]
                # Headings with no body of their own (Title, Chapter, §) open the next section's span.
                head_start = start if current.paras or current.head_start is None else current.head_start
                if current.paras:
                    sections.append(current)
                current = _Section([s[1] for s in stack], head_start, [])
                pending_head = start
            current.path = [s[1] for s in stack]
            head_end = start + len(line.rstrip())
            para = None
            continue
        pending_head = None
        label_match = PARA_LABEL.match(line)
        if para is None or label_match:
            para = _Para(start, start + len(line.rstrip()), label_match.group(1).strip() if label_match else "")
            current.paras.append(para)
        else:
            para.end = start + len(line.rstrip())
    if not current.paras and current.head_start is not None:
        # Trailing headings (or a document of only headings) still land in a chunk.
        current.paras.append(_Para(current.head_start, head_end, ""))
        current.head_start = None
    if current.paras:
        sections.append(current)
    return sections


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Split an over-long span at sentence ends (or spaces, or hard) into pieces <= limit."""
    pieces: list[tuple[int, int]] = []
    while end - start > limit:
        window = text[start : start + limit]
        cut = max((m.start() for m in SENTENCE_END.finditer(window) if m.start() > limit // 3), default=-1)
        if cut < 0:
            cut = window.rfind(" ", limit // 3)
        if cut <= 0:
            cut = limit
        pieces.append((start, start + cut))
        start += cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces


def chunk_document(text: str, title: str, doc_type: str, target: int = 800, body_start: int = 0) -> list[Chunk]:
    """Split a document into chunks of about `target` characters along its structure."""
    limit = int(target * 1.5)
    chunks: list[Chunk] = []
    is_news = doc_type == "news"
    for sec in _sections(text, body_start, title):
        # Statute titles already name Title and §; chapters only lengthen the path.
        inner = (
            [p for p in sec.path if not re.match(r"(?i)(title|chapter|subtitle|part)\b", p)]
            if doc_type == "law"
            else sec.path
        )
        path = [title, *inner] if title else list(inner)
        if doc_type == "treaty" and not sec.path:
            path.append("Preamble")
        groups: list[list[_Para]] = []
        for para in sec.paras:
            if groups and sum(p.end - p.start for p in groups[-1]) + (para.end - para.start) <= target:
                groups[-1].append(para)
            else:
                groups.append([para])
        for gi, group in enumerate(groups):
            start = sec.head_start if gi == 0 and sec.head_start is not None else group[0].start
            end = group[-1].end
            labels = [p.label for p in group if p.label]
            if is_news:
                n0 = sec.paras.index(group[0]) + 1
                n1 = n0 + len(group) - 1
                label = f"¶ {n0}" if n0 == n1 else f"¶ {n0}–{n1}"
            elif labels:
                label = labels[0] if len(labels) == 1 else f"{labels[0]}–{labels[-1]}"
            else:
                label = ""
            section = SEP.join([*path, label] if label else path)
            for s, e in _split_long(text, start, end, limit):
                chunks.append(Chunk(s, e, section, text[s:e]))
    return chunks


def embed_text(chunk: Chunk, date: str) -> str:
    """What is embedded and indexed: the section path (with title) and date make a chunk findable."""
    head = f"{chunk.section} ({date})".strip() if date else chunk.section
    return f"{head}\n{chunk.text}" if head else chunk.text


def infer_doc_type(hint: str, source: str, text: str) -> str:
    """news / treaty / law / other, from the loader's hint, the folder, then the structure."""
    if hint:
        return hint
    parts = {p.lower() for p in re.split(r"[\\/]", source)[:-1]}
    for doc_type, folders in (
        ("news", {"news", "articles", "press"}),
        ("treaty", {"treaties", "treaty", "conventions", "agreements"}),
        ("law", {"law", "laws", "statutes", "usc", "legislation", "code"}),
    ):
        if parts & folders:
            return doc_type
    head = text[:20000]
    if len(re.findall(r"(?im)^\W*article\s+[ivxlc\d]+\b", head)) >= 2:
        return "treaty"
    if re.search(r"(?m)^\W*§+\s*\d", head):
        return "law"
    return "other"
