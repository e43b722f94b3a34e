"""Citation verification: every claim's key facts (numbers, dates, names) must appear in
the passage its marker points at. Markers to nothing are removed, markers to the wrong
passage are re-pointed, unsupported claims are dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dates import SPELLED_NUMBER, find_dates, parse_date, words_to_number
from .text import tokens
from .types import Passage

MARKER = re.compile(r"\s*\[(\d{1,3})\]")
CLAIM_SPLIT = re.compile(r"(?<=[.!?;])\s+(?=[A-Z“\"])")
CAP_WORD = re.compile(r"\b[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})*\b|\b[A-Z][A-Z0-9-]{2,}\b")
COMMON_CAPS = {
    "The",
    "This",
    "That",
    "Yes",
    "No",
    "Under",
    "According",
    "They",
    "There",
    "It",
    "He",
    "She",
    "In",
    "On",
    "At",
    "By",
    "And",
    "But",
    "Documents",
}


@dataclass
class Claim:
    text: str  # without markers
    markers: list[int]


@dataclass
class Verified:
    text: str  # the answer with markers renumbered to passages (1-based)
    kept: list[tuple[str, int]] = field(default_factory=list)  # (claim, passage index 0-based)
    dropped: list[str] = field(default_factory=list)
    repointed: int = 0
    removed_markers: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.kept)


def parse_claims(answer: str) -> list[Claim]:
    """Split an answer into claims with the markers that follow them."""
    claims = []
    for part in CLAIM_SPLIT.split(answer.strip()):
        markers = [int(m) for m in MARKER.findall(part)]
        text = MARKER.sub("", part).strip()
        if text or markers:
            claims.append(Claim(text, markers))
    # A marker standing alone after a claim belongs to that claim.
    merged: list[Claim] = []
    for c in claims:
        if not c.text and merged:
            merged[-1].markers += c.markers
        else:
            merged.append(c)
    return merged


def facts(claim: str) -> list[tuple[str, str]]:
    """(kind, value) facts a passage must contain to support the claim."""
    out: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for s, e, expr in find_dates(claim):
        out.append(("date", expr))
        taken.append((s, e))
    for m in re.finditer(r"\d[\d,]*(?:\.\d+)?", claim):
        if not any(s <= m.start() < e for s, e in taken):
            out.append(("number", m.group(0).replace(",", "").rstrip(".")))
    for m in SPELLED_NUMBER.finditer(claim):
        value = words_to_number(m.group(0))
        if value is not None and value > 1 and not any(s <= m.start() < e for s, e in taken):
            out.append(("number", str(value)))
    for m in CAP_WORD.finditer(claim):
        words = [w for w in m.group(0).split() if w not in COMMON_CAPS]
        if words:
            out.append(("name", " ".join(words)))
    return out


def _passage_numbers(text: str) -> set[str]:
    nums = {n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}
    for m in SPELLED_NUMBER.finditer(text):
        value = words_to_number(m.group(0))
        if value is not None:
            nums.add(str(value))
    return nums


def _passage_dates(p: Passage) -> set[str]:
    out = set()
    for _, _, expr in find_dates(p.text):
        text, date = parse_date(expr, p.date)
        out.add(date.isoformat() if date else text.lower())
        if date:
            out.add(str(date.year))
    return out


def supports(p: Passage, fact: tuple[str, str]) -> bool:
    kind, value = fact
    if kind == "number":
        return value in _passage_numbers(p.text) or (len(value) == 4 and value in _passage_dates(p))
    if kind == "date":
        text, date = parse_date(value, p.date)
        if date is not None:
            return date.isoformat() in _passage_dates(p)
        dates = _passage_dates(p)
        return text.lower() in dates or all(w in " ".join(dates) or w in p.text.lower() for w in text.lower().split())
    haystack = f"{p.title} {p.section} {p.text}".lower()
    return all(w.lower() in haystack for w in value.split())


def verify(answer: str, passages: list[Passage]) -> Verified:
    """Keep the claims whose facts their cited passage contains; re-point or drop the rest."""
    out_parts: list[str] = []
    result = Verified("")
    for claim in parse_claims(answer):
        valid = [m for m in claim.markers if 1 <= m <= len(passages)]
        result.removed_markers += len(claim.markers) - len(valid)
        need = facts(claim.text)
        if not claim.text:
            continue

        def ok(i: int, need: list[tuple[str, str]] = need, text: str = claim.text) -> bool:
            if need:
                return all(supports(passages[i], f) for f in need)
            # A fact-free claim ("Yes.") needs a real marker; longer ones must share words.
            words = set(tokens(text))
            return len(words) <= 2 or len(words & set(tokens(passages[i].text))) >= 0.5 * len(words)

        cited = [m - 1 for m in valid if ok(m - 1)]
        if not cited:
            others = [i for i in range(len(passages)) if ok(i)] if need or valid else []
            if not others:
                result.dropped.append(claim.text)
                continue
            cited = others[:1]
            result.repointed += 1
        result.kept.append((claim.text, cited[0]))
        out_parts.append(with_markers(claim.text, sorted(set(cited))))
    result.text = " ".join(out_parts)
    return result


def with_markers(text: str, passages: list[int]) -> str:
    """'A claim.' + [0, 2] -> 'A claim [1] [3].' (markers before the final stop)."""
    text = text.rstrip()
    stop = text[-1] if text and text[-1] in ".!?" else ""
    body = text[:-1].rstrip() if stop else text
    return body + "".join(f" [{i + 1}]" for i in passages) + (stop or ".")
