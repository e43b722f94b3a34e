"""What a question asks for: its answer type, its key terms, and its parts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .dates import MONTHS, WEEKDAYS, YEAR
from .text import STOP, WORD, stem, tokens

YESNO_START = re.compile(r"^(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|must|may)\b", re.I)
AUX = {
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "must",
    "should",
    "can",
    "will",
    "would",
    "could",
    "may",
    "shall",
}
PERSON_NOUNS = {
    "president",
    "minister",
    "negotiator",
    "secretary",
    "leader",
    "official",
    "ambassador",
    "diplomat",
    "envoy",
    "chancellor",
    "advisor",
    "adviser",
    "spokesman",
    "spokeswoman",
    "person",
    "general",
    "head",
}
# "which (Russian) minister(s)": group 1 is the plural s.
PERSON_QUESTION = re.compile(r"\b(?:which|what)\s+(?:\w+\s+){0,2}(?:" + "|".join(PERSON_NOUNS) + r")(s?)\b")
CALENDAR = frozenset(MONTHS) | frozenset(WEEKDAYS)
CALENDAR_STEMS = frozenset(stem(w) for w in CALENDAR)
# Words that say where to look or how to answer, not what happened ("according to the 2020 article").
META = frozenset(stem(w) for w in "article statement document text mention many much stand mean term defined".split())


@dataclass
class QuestionInfo:
    text: str
    kind: str  # date | year | number | person | place | treaty | yesno | other
    terms: list[str]  # stemmed content words
    entities: list[str]  # stemmed words written as names/codes (Ryabkov, 9M729, NPT)
    head: list[str] = field(default_factory=list)  # stemmed head noun of "which X"/"what X"
    years: list[int] = field(default_factory=list)
    unit: list[str] = field(default_factory=list)  # what "how many X" counts (stemmed X)

    @property
    def relation(self) -> list[str]:
        """The words that say what is asked about the entities ('signed', 'enter into force')."""
        skip = set(self.entities) | set(self.head) | META | CALENDAR_STEMS
        return [t for t in self.terms if t not in skip and not t.isdigit()]


def classify(q: str) -> str:
    low = q.lower().strip()
    # The question word in front decides: "Who was minister when X happened?" asks for a person.
    if re.match(r"^(who|whom|whose)\b", low):
        return "person"
    if re.match(r"^where\b(?!\s+and\s+when)", low):
        return "place"
    if re.match(r"^how\s+(many|much|large|far|often|long|big|old|high)\b", low):
        return "number"
    if re.search(r"\b(what|which|in what)\s+year\b", low):
        return "year"
    if re.search(r"\bwhen\b|\b(what|which)\s+(date|day|month)\b|\bby\s+what\s+date\b", low):
        return "date"
    if re.search(
        r"\bhow\s+(many|much|large|far|often|long|big|old|high)\b|\b(what|which)\s+(number|percentage|share|amount|range|distance|limit)\b|\bmaximum\s+(number|range)\b|\b(what|which)\s+(is|was|are|were)\s+the\s+(total\s+)?(number|percentage|share|amount|range|distance|limit|size|cost)\s+of\b|\bhow\s+\w+\s+in\s+advance\b",
        low,
    ):
        return "number"
    if re.search(r"\b(which|what)\s+(treaty|agreement|convention|accord)\b", low):
        return "treaty"
    if PERSON_QUESTION.search(low):
        return "person"
    if YESNO_START.match(low):
        return "yesno"
    if define_term(q):
        return "define"
    return "other"


def asks_several(q: str) -> bool:
    """'Which two presidents ...?', 'Who are the depositary governments?': a list is wanted."""
    low = q.lower()
    return bool(
        re.search(r"\b(two|three|four|five|both)\b|^\s*who\s+(are|were)\b", low)
        or any(m.group(1) for m in PERSON_QUESTION.finditer(low))  # a plural: "which presidents"
    )


@lru_cache(maxsize=256)
def definition_pattern(term: str) -> re.Pattern[str]:
    """Where a text defines `term`: 'the term "X" means <group 1>' or '<group 2> (X)'."""
    t = re.escape(term)
    return re.compile(
        rf"[\"“]?\b{t}\b[\"”]?\s*(?:\([^)]*\)\s*)?(?:means|shall mean|refers to|is defined as|stands for)\s+(.+?)(?=;|\.\s|\.?$)"
        rf"|((?:[A-Z][\w-]*\s+){{1,6}})\(\s*(?:the\s+)?[\"“]?{t}[\"”]?\s*\)",
        re.I,
    )


@lru_cache(maxsize=1024)
def define_term(q: str) -> str:
    """The term a definition question asks about: 'What does OSIA stand for?' -> 'OSIA',
    'What is the passive quota under the Open Skies Treaty?' -> 'passive quota'."""
    m = re.match(
        r"^\s*what\s+(?:does|do)\s+(?:the\s+(?:term|acronym|abbreviation)\s+)?(.+?)\s+(?:stand\s+for|mean)\b", q, re.I
    )
    m = m or re.match(
        r"^\s*what\s+is\s+(?:meant\s+by\s+)?(?:an?\s+|the\s+)?(?:term\s+)?(.{2,40}?)(?:\s+(?:under|in)\s+the\s+.+)?\s*\?*\s*$",
        q,
        re.I,
    )
    return m.group(1).strip(" \"“”'") if m else ""


def analyze(q: str) -> QuestionInfo:
    words = re.findall(r"[A-Za-z0-9][\w’'.-]*", q)
    entities = []
    for i, w in enumerate(words):
        w = w.rstrip(".")
        is_code = bool(re.search(r"\d", w) and re.search(r"[A-Za-z]", w))
        # "22 U.S.C. 8929", "Section 494": a cited section number names a document.
        is_code = is_code or (w.isdigit() and i > 0 and words[i - 1].lower().rstrip(".") in {"u.s.c", "usc", "section"})
        is_name = w[:1].isupper() and (i > 0 or w.isupper()) and w.lower() not in STOP
        if (is_code or is_name) and w.lower() not in CALENDAR:
            entities.extend(tokens(w))
    head: list[str] = []
    m = re.search(r"\b(which|what)\s+((?:[\w-]+\s+){0,3}?[\w-]+)\s+(?:" + "|".join(AUX) + r"|[a-z]+ed)\b", q, re.I)
    if m:
        head = [t for t in tokens(m.group(2)) if t not in {"new"}]
    years = [int(y) for y in YEAR.findall(q)]
    counted = re.search(
        r"\bhow\s+many\s+((?:[\w-]+\s+){0,2}?[\w-]+)\s+(?:" + "|".join(AUX) + r"|could|might)\b", q, re.I
    )
    # "the maximum number of combat aircraft a State may hold" counts combat aircraft too.
    counted = counted or re.search(
        r"\bnumber\s+of\s+((?:[\w-]+\s+){0,2}?[\w-]+?)(?=\s+(?:"
        + "|".join(AUX)
        + r"|could|might|a|an|the|each|per|in|for|that|which|allowed|permitted)\b|\s*\?)",
        q,
        re.I,
    )
    unit = tokens(counted.group(1)) if counted else []
    return QuestionInfo(q, classify(q), tokens(q), entities, head, years, unit)


WH = r"(?:when|where|what|which|who|whom|how|why|whether|by\s+what|in\s+what|on\s+what)"


def _split_and(q: str) -> list[str]:
    """'When did X enter into force, and by what date did Y ...?' -> two questions.

    Only splits at ', and' / 'and' followed by a question word, so 'China and France'
    stays one question.
    """
    parts = re.split(rf",?\s+and\s+(?={WH}\b)", q, flags=re.I)
    merged: list[str] = []
    for part in (p.strip(" ,") for p in parts):
        # "where and when was it signed": a bare question word joins the next part.
        if merged and len(merged[-1].split()) < 3:
            merged[-1] = f"{merged[-1]} and {part}"
        else:
            merged.append(part)
    return merged if len(merged) >= 2 and len(merged[-1].split()) >= 3 else [q]


def joins(q: str) -> list[int]:
    """Where each joining word or sign of the question ends: "and" or one of , ; & + /."""
    signs = [i + 1 for i, ch in enumerate(q) if ch in ",;&+/"]
    return sorted(signs + [m.end() for m in WORD.finditer(q) if m.group(0).lower() == "and"])


def joined(q: str) -> bool:
    """Could the question be two joined into one? Only a joining word or sign can join them,
    so only such a question is worth the model's split (`rewrite.split_question`)."""
    return bool(joins(q))


def split_parts(q: str) -> list[str]:
    """One question per part. Besides ', and when ...', a user types two questions in one
    with a question mark or a semicolon between them ("cfe treaty signed where; limited in
    duration?"), often after a topic and a colon ("icbm test 2016: launch site? target area?"),
    which then belongs to every part. Each part keeps the case it was typed in: the small
    model reads "Open skies treaty signed where?" otherwise than the typed "open skies …"."""
    body = q.strip()
    topic = ""
    m = re.match(r"([^:?;]{3,80}):\s+(.*[?;]\s*\S.*)$", body)
    if m:
        topic, body = m.group(1).strip(), m.group(2)
    segments = [s.strip(" ,") for s in re.split(r"[?;]\s+", body.strip().rstrip("?;").strip())]
    segments = [s for s in segments if s]
    parts = [p for s in segments for p in _split_and(s)]
    if len(parts) < 2:
        return [q]
    return [(f"{topic} {p}" if topic else p) + "?" for p in parts]
