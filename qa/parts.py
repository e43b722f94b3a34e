"""A question's parts and the answer composed from them.

Each part ("…, and where was it signed?") is searched, read and grounded on its own. The answer
shows one paragraph per part (its short answer, a marker and the quote, or a plain "the
documents don't answer" for that part), and the citations list the quoted passages in marker order."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from .dates import normalise_numbers
from .extractive import Candidate, common_names, trim_quote
from .grounding import Grounding
from .question import QuestionInfo
from .spans import best_span
from .types import Citation, Passage

# Each part of a two-part answer is a paragraph of its own: the reader sees which answer is which.
PART_BREAK = "\n\n"


@dataclass
class Part:
    """One part of the question: what it asks, the passages found for it, and the extractive
    reader's candidates (scored only when the fast mode, the fallback or a carry-over needs them)."""

    question: str
    info: QuestionInfo
    passages: list[Passage]
    qvec: np.ndarray
    rank: Callable[[], list[Candidate]]  # the extractive reader's sentences, scored on first use
    lexical: Callable[[], Passage | None]  # BM25's best passage for the part's search, found on use
    threshold: float
    carried: str = ""  # the entity an earlier part's answer named, searched with this part
    searched_in: tuple[str, ...] = ()  # the last answer's files, when this follow-up was searched only there

    def referent(self, passage: Passage, answer: str) -> str:
        """' (Treaty on …)' when this part's 'that treaty' was resolved by us: the user sees
        which document we took it to mean."""
        named = passage.title.lower() in f"{self.question} {answer}".lower()
        return f" ({passage.title})" if self.carried and not named else ""

    @cached_property
    def best(self) -> Candidate | None:
        """The extractive answer: needed by the fast mode, the fallback and the carry-over only."""
        ranked = self.rank()
        return ranked[0] if ranked else None

    @property
    def abstain(self) -> bool:
        return self.best is None or self.best.support < self.threshold


@dataclass
class Read:
    """One question part after reading and grounding."""

    part: Part
    answer: str
    where: Grounding | None
    abstain: bool
    score: float = 0.0
    reason: str = ""
    fallback: bool = False
    yesno: bool = False


def compose_read(read: list[Read]) -> tuple[str, list[tuple[Passage, Candidate]]]:
    """The model's answer: per part, the grounded answer, its marker and its quote."""
    sentences: list[str] = []
    cited: list[tuple[Passage, Candidate]] = []
    for r in read:
        if r.abstain or r.where is None:
            if len(read) > 1:
                sentences.append(not_said(r.part.question))
            continue
        w = r.where
        passage = r.part.passages[w.passage]
        cited.append((passage, Candidate(w.passage, w.start, w.end, w.quote, score=r.score)))
        n = len(cited)
        quote = trim_quote(w.quote, r.answer, 220 if len(read) == 1 else 130)
        if r.yesno:  # the reason is part of a yes/no answer: "No — this Treaty shall be of unlimited duration"
            sentences.append(f"{r.answer} — {quote.rstrip('.')} [{n}].")
        else:
            sentences.append(f"{r.answer}{r.part.referent(passage, r.answer)} [{n}] — “{quote}”")
    return PART_BREAK.join(sentences), cited


def compose_extractive(parts: list[Part]) -> tuple[str, list[tuple[Passage, Candidate]]]:
    """The extractive answer: per part, the span and its quote with a marker."""
    sentences: list[str] = []
    cited: list[tuple[Passage, Candidate]] = []
    for part in parts:
        if part.abstain or part.best is None:
            if len(parts) > 1:
                sentences.append(not_said(part.question))
            continue
        best = part.best
        passage = part.passages[best.passage]
        cited.append((passage, best))
        n = len(cited)
        # Without a typed span, a list after a colon is usually what was asked ("the following five categories: ...").
        focus = best.span or best.text.partition(":")[2].strip()[:40]
        quote = trim_quote(best.text, focus, 220 if len(parts) == 1 else 130)
        if best.span and part.info.kind == "yesno":
            sentences.append(f"{best.span} — {quote.rstrip('.')} [{n}].")
        elif best.span:
            if part.info.kind == "number":
                best.span = normalise_numbers(best.span)  # "forty" -> "forty (40)"
            shown = best.span
            if part.info.kind == "date" and re.search(r"\bwhere\b", part.question, re.I):
                place, _ = best_span(replace(part.info, kind="place"), best.text, passage.date)
                shown += f", at {place}" if place else ""  # "when and where was it signed?"
            about = part.referent(passage, best.span)
            sentences.append(f"{shown}{about} [{n}] — “{quote}”")
        else:
            names = common_names(best.text)
            lead = f"{', '.join(names[:-1])} and {names[-1]} [{n}] — " if len(names) >= 2 else ""
            sentences.append(f"{lead}“{quote}”" + ("" if lead else f" [{n}]"))
    return PART_BREAK.join(sentences), cited


def citations(cited: list[tuple[Passage, Candidate]]) -> list[Citation]:
    """The quoted passages, numbered in marker order."""
    return [
        Citation(
            n=i + 1,
            source=p.file_name,
            source_path=p.source,
            title=p.title,
            date=p.date,
            doc_type=p.doc_type,
            section=p.section,
            quote=c.text,
            start=c.start,
            end=c.end,
            score=round(c.score or p.score, 4),
            passage=p.text,
        )
        for i, (p, c) in enumerate(cited)
    ]


def not_said(question: str) -> str:
    """One part of a two-part question the documents do not answer, quoted as asked (its
    words and their case stay the user's: 'Jake', 'INF')."""
    return f"The documents don't answer “{question.rstrip('?. ')}?”"
