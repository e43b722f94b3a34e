"""Grounding: a generated answer is accepted only where a passage holds its facts.

Facts are the answer's content words that the question does not already contain: names,
numbers and dates included, compared after normalisation ("Feb. 2" = "February 2", "sixty
days" = "60 days", "1,500" = "1500", "U.S." = "US"). The sentence (or pair of adjacent
sentences) that holds them all becomes the citation's quote, with its offsets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .dates import MONTH_ABBR, MONTHS, SPELLED_NUMBER, words_to_number
from .text import sentences, tokens
from .types import Passage

_ABBR_MONTH = re.compile(r"\b(" + "|".join(sorted(MONTH_ABBR, key=len, reverse=True)) + r")\.?(?=\s|$|,)", re.I)
_ORDINAL_SUFFIX = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.I)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def normalise(text: str) -> str:
    """Plain forms of numbers and months, so that facts compare as words."""
    text = text.replace("’", "'").replace("–", "-")
    text = SPELLED_NUMBER.sub(lambda m: str(words_to_number(m.group(0)) or m.group(0)), text)
    text = _ABBR_MONTH.sub(
        lambda m: MONTHS[
            MONTH_ABBR[m.group(1).lower()[:4] if m.group(1).lower() == "sept" else m.group(1).lower()[:3]] - 1
        ],
        text,
    )
    text = _ORDINAL_SUFFIX.sub(r"\1", text)
    return _THOUSANDS.sub("", text)


def fact_tokens(answer: str, question: str = "") -> list[str]:
    """The answer's normalised content tokens that the question does not supply."""
    asked = set(tokens(normalise(question)))
    return list(dict.fromkeys(t for t in tokens(normalise(answer)) if t not in asked))


@dataclass
class Grounding:
    """Where an answer's facts stand: passage index, the quote and its document offsets."""

    passage: int
    start: int
    end: int
    quote: str
    coverage: float


def _date_tokens(p: Passage) -> set[str]:
    """A news passage's own date supplies the year of 'from February 2'."""
    if not p.date:
        return set()
    year, month = p.date[:4], int(p.date[5:7] or 0) if len(p.date) >= 7 else 0
    return set(tokens(f"{year} {MONTHS[month - 1] if month else ''}"))


def ground(answer: str, question: str, passages: list[Passage], preferred: Sequence[int] = ()) -> Grounding | None:
    """The best-supported place of `answer` in `passages`, or None when no single sentence
    or adjacent pair holds all its facts. Passages the model named are tried first."""
    need = fact_tokens(answer, question)
    order = [i for i in preferred if 0 <= i < len(passages)]
    order += [i for i in range(len(passages)) if i not in order]
    if not need:
        return None
    best: Grounding | None = None
    cache: dict[int, tuple[list[tuple[int, int, str]], list[set[str]], set[str]]] = {}
    for width in (1, 2):  # one sentence is the better quote; a pair only when the facts straddle two
        for i in order:
            p = passages[i]
            if i not in cache:
                sents = sentences(p.text, p.start)
                cache[i] = (
                    sents,
                    [set(tokens(normalise(s[2]))) for s in sents],
                    _date_tokens(p) | set(tokens(normalise(p.title))),
                )
            sents, toks, extra = cache[i]
            for j in range(len(sents) - width + 1):
                have = set().union(*toks[j : j + width])
                # The sentence must hold at least one fact itself; the title and date only complete it.
                own = [t for t in need if t in have]
                if not own:
                    continue
                cov = sum(1 for t in need if t in have or t in extra) / len(need)
                if best is None or cov > best.coverage + 1e-9:
                    s, e = sents[j][0], sents[j + width - 1][1]
                    best = Grounding(i, s, e, p.text[s - p.start : e - p.start], cov)
                if cov >= 1.0:
                    return best
    return best if best is not None and best.coverage >= 1.0 else None


def best_sentence(question: str, passage: Passage, index: int) -> Grounding:
    """The passage sentence that shares most of the question's words (the quote of a yes/no)."""
    q = set(tokens(normalise(question)))
    sents = sentences(passage.text, passage.start) or [(passage.start, passage.end, passage.text)]
    s, e, text = max(sents, key=lambda x: len(q & set(tokens(normalise(x[2])))))
    cov = len(q & set(tokens(normalise(text)))) / max(1, len(q))
    return Grounding(index, s, e, text, cov)
