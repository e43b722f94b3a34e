"""Tokens, sentences and stemming shared by retrieval and answering."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ingest.chunking import MD_HEADING

# Letters and digits of any script ("Pogačar", "straße"), joined by apostrophes, dots and hyphens.
WORD = re.compile(r"[^\W_](?:[\w'’.-]*[^\W_])?")
ACRONYM = re.compile(r"\b[A-Z]{3,6}\b")  # "NPT", "OSIA": a word typed in capitals
STOP = frozenset(
    """a an the of to in on at by for from with and or but not no nor is are was were be been being do does did
    has have had this that these those it its as into than then there their they them he she his her we our you your
    i me my what which who whom whose when where why how whether if any all each both such so can could should would
    may might must shall will about after before under over between through during also other more most less least
    per only own same very just up out off again further once here s t according say said says""".split()
)
SENT_SPLIT = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“(\[]?[A-Z0-9])|\n\s*\n|\n(?=\s*(?:\(\w{1,4}\)|\d{1,3}\.)\s)")
ABBREV = re.compile(
    r"\b(?:U\.S\.C|U\.S|U\.K|No|Nos|Art|Sec|para|Dr|Mr|Mrs|Ms|St|Gen|Lt|Col|Sen|Rep|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Calif|etc|e\.g|i\.e|cf|vs)\.$"
)


# The stemmer leaves irregular verbs apart ("spoke" vs "speak"); questions and news use both forms.
IRREGULAR = {
    "spoke": "speak",
    "spoken": "speak",
    "said": "say",
    "met": "meet",
    "took": "take",
    "taken": "take",
    "began": "begin",
    "begun": "begin",
    "wrote": "write",
    "written": "write",
    "held": "hold",
    "made": "make",
    "gave": "give",
    "given": "give",
    "left": "leave",
    "sent": "send",
    "told": "tell",
    "found": "find",
    "went": "go",
    "gone": "go",
    "came": "come",
    "saw": "see",
    "seen": "see",
    "won": "win",
    "led": "lead",
    "fought": "fight",
    "sought": "seek",
    "thought": "think",
    "brought": "bring",
    "chose": "choose",
    "chosen": "choose",
    "broke": "break",
    "broken": "break",
    "knew": "know",
    "known": "know",
    "drew": "draw",
    "drawn": "draw",
    "grew": "grow",
    "grown": "grow",
    "froze": "freeze",
    "frozen": "freeze",
    "struck": "strike",
    "stood": "stand",
    "withdrew": "withdraw",
    "withdrawn": "withdraw",
    "undertook": "undertake",
    "undertaken": "undertake",
    "kept": "keep",
    "lost": "lose",
    "paid": "pay",
    "ran": "run",
    "rose": "rise",
    "risen": "rise",
    # common abbreviations in typed questions
    "govt": "government",
    "govts": "governments",
    "gov": "government",
    "dept": "department",
    "intl": "international",
    "approx": "approximately",
    "yr": "year",
    "yrs": "years",
    "min": "minimum",
    "max": "maximum",
    "fell": "fall",
    "fallen": "fall",
    "shot": "shoot",
    "hit": "hit",
    "bore": "bear",
    "borne": "bear",
    "forbade": "forbid",
    "forbidden": "forbid",
    "became": "become",
    "heard": "hear",
    "meant": "mean",
    "sat": "sit",
    "set": "set",
}


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


# Words a question and its evidence use interchangeably for the same event ("leave" the treaty
# vs "exit"/"withdraw from" it). A small general table for news and treaty language, matched
# on stems; it only widens the predicate match, never adds entities.
_FAMILIES = (
    "leave exit withdraw withdrawal quit abandon ditch pull",
    "sign signature signatory conclude",
    "ban prohibit prohibition forbid outlaw",
    "violate violation breach noncompliance",
    "join accede accession adhere",
    "ratify ratification approve",
    "start begin launch commence",
    "end terminate termination expire expiry cease",
    "kill die death dead",
    "meet meeting talks summit",
    "elect election win vote",
    "arrest detain detention",
    "attack strike assault",
    "deploy deployment station",
    "test launch fire",
)


@lru_cache(maxsize=1)
def _related() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for family in _FAMILIES:
        stems = {stem(w) for w in family.split()}
        for s in stems:
            out.setdefault(s, set()).update(stems)
    return {k: frozenset(v) for k, v in out.items()}


def related(term: str) -> frozenset[str]:
    """The stem itself and the stems used interchangeably with it."""
    return _related().get(term, frozenset((term,)))


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words (stop words dropped), accents folded: people type
    "pogacar" and "cafe" for the "Pogačar" and "café" a text writes (MiniLM folds them too)."""
    out: list[str] = []
    for word in WORD.findall(fold(text.lower().replace("’", "'"))):
        out.extend(_word_tokens(word))
    return out


def fold(text: str) -> str:
    """The text without its accents ("é" -> "e"); letters with none of their own stay ("ß")."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=100_000)
def _word_tokens(word: str) -> tuple[str, ...]:
    """One word's tokens, cached: a corpus repeats its words, and indexing 100k chunks spent
    most of its time normalising and stemming the same words again."""
    word = word.strip(".'-")
    out = []
    # "test-fired" matches "test fired", "US-Russia talks" matches "US and Russian".
    for w in word.split("-"):
        if w.endswith("'s"):
            w = w[:-2]
        w = w.strip(".")
        if re.fullmatch(r"(?:[a-z]\.)+[a-z]", w):
            w = w.replace(".", "")  # U.S. = US, U.K. = UK, also in "U.S.-Russia" and "U.S.'s"
        if w and w not in STOP:
            out.append(stem(IRREGULAR.get(w, w)))
    return tuple(out)


def sentences(text: str, offset: int = 0, headings: bool = True) -> list[tuple[int, int, str]]:
    """(start, end, sentence) spans of `text`, offsets shifted by `offset`.

    Headings and list labels stay with their sentence; abbreviations (U.S.C., Calif.) do
    not end a sentence. `headings=False` leaves markdown heading lines out (blanked, so the
    offsets still point into `text`): a quote is a statement, never "… States ###### (a) In
    General .", while the reader still sees a heading as context.
    """
    if not headings:  # the lines ingest read as headings (and made the section label)
        text = "\n".join(" " * len(line) if MD_HEADING.match(line) else line for line in text.split("\n"))
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in SENT_SPLIT.finditer(text):
        if ABBREV.search(text[max(0, m.start() - 8) : m.start()]):
            continue
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        seg = text[s:e]
        lead = len(seg) - len(seg.lstrip())
        seg = seg.strip()
        # Drop markdown heading marks so a heading-only line is not a "sentence".
        if not seg or re.fullmatch(r"#+\s*.*", seg) and len(seg) < 80:
            continue
        out.append((offset + s + lead, offset + s + lead + len(seg), seg))
    return out
