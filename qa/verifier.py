"""Verify and cite: the model's answer is accepted only where a passage holds its facts.

The sentence it stands in becomes the citation (quote and offsets) and the support score
decides abstention; a paraphrase is copied into the sentence's own words by the model, and an
answer found nowhere falls back to the extractive answer, if that is supported, or abstains."""

from __future__ import annotations

import re
from collections import abc
from dataclasses import dataclass, replace

import prompts

from .abstention import support
from .config import QAConfig
from .generators import Generator, complete
from .grounding import (
    Grounding,
    as_written,
    best_sentence,
    closest,
    complete_date,
    dated,
    dated_sentence,
    ground,
    in_title,
    other_year,
    sharpen_year,
)
from .parts import Part, Read
from .reader import Reading, parse
from .retrieval import LexicalIndex
from .text import tokens
from .types import Passage, Status
from .yesno import YESNO

# Shown while the model is asked to copy its answer: the words streamed so far may not be the answer.
COPYING = "Checking the answer against the passage's own words…"
INSTRUCTION_LIKE_SENTENCE = re.compile(
    r"[^.!?\n]*\b(?:ignore (?:all |any )?(?:previous|prior|above) instructions|disregard [^.!?\n]{0,20}instructions|you are now)\b[^.!?\n]*[.!?]?",
    re.I,
)


@dataclass(frozen=True)
class Verifier:
    """Grounds one part's reading in its passages; `gen` (if any) is asked to copy a paraphrase."""

    config: QAConfig
    index: LexicalIndex
    gen: Generator | None = None

    def verify(self, part: Part, reading: Reading | None) -> abc.Generator[Status, None, Read]:
        """Accept the model's answer where a passage holds its facts; otherwise fall back to
        the extractive answer (if it is supported) or abstain. Yields a Status before the model
        is asked again, since its streamed words may then not be the answer."""
        if reading is not None and not reading.found:
            return Read(part, "", None, abstain=True, reason="model")  # score 0: the model found nothing
        if reading is not None:
            named = reading.cited[0] if reading.cited and reading.cited[0] < len(part.passages) else 0
            said = YESNO.match(reading.answer) if part.info.kind == "yesno" else None
            yesno = said is not None
            answer, where = after_echo(reading.answer, part.question), None
            clean = [sanitized(p) for p in part.passages]
            if not self.config.verify:  # ablation: the model's word, its own citation
                return Read(part, answer, best_sentence(part.question, part.passages[named], named), abstain=False)
            if (
                said is not None
            ):  # the model names the passage; its sentence that best matches the question is the reason
                answer = said.group(1).capitalize()
                where = best_sentence(part.question, clean[named], named)
            else:
                where = ground(answer, part.question, clean, reading.cited)
                header = dated(answer, part.question, clean, reading.cited) if where is None else None
                # A document's own date answers only a question about the document itself.
                if header is not None and self._about_title(part.question, clean[header[1].passage]):
                    answer, where = header
                elif header is not None and self.gen is not None:  # the header's date, not the event's:
                    near = dated_sentence(part.question, clean[header[1].passage], header[1].passage)
                    if near is not None:  # ask for the date the passage's own words give
                        yield Status(text=COPYING)
                        answer, where = self._copy(self.gen, part.question, answer, clean, near)
                # A paraphrase: let the model copy its words from the sentence it most likely read.
                if (
                    where is None
                    and self.gen is not None
                    and (near := closest(answer, part.question, clean, reading.cited))
                ):
                    yield Status(text=COPYING)
                    answer, where = self._copy(self.gen, part.question, answer, clean, near)
            if where is None and (titled := in_title(answer, part.question, clean, reading.cited)):
                # Only where the passage carries the question: a title names what a whole document is about.
                fit = support(part.question, part.passages[titled.passage], self.index, fact=True)
                where = titled if fit >= self.config.abstain_threshold else None
            if where is not None and self._other_year(part, where.passage, where.quote):
                where = None  # read in a sentence about another year: not an answer to this one
            if where is not None:
                cited = part.passages[where.passage]
                if not yesno:
                    answer = complete_date(as_written(answer, where.quote), where.quote, cited.date)
                    sharper = sharpen_year(answer, part.question, clean, where)
                    if sharper is not None:
                        answer, where = sharper
                        cited = part.passages[where.passage]
                score = support(part.question, cited, self.index, fact=not yesno)
                return Read(part, answer, where, score < self.config.abstain_threshold, score, yesno=yesno)
        # A fallback without a typed span would be a bare quote: never a right answer when measured.
        if part.abstain or part.best is None or not part.best.span:
            return Read(part, "", None, abstain=True, reason="ungrounded")
        best = part.best
        if self._other_year(part, best.passage, best.text):  # as the model's answer is
            return Read(part, "", None, abstain=True, reason="ungrounded")
        where = Grounding(best.passage, best.start, best.end, best.text)
        return Read(part, best.span, where, False, best.support, fallback=True)

    def _copy(
        self,
        gen: Generator,
        question: str,
        answer: str,
        passages: list[Passage],
        near: Grounding,
    ) -> tuple[str, Grounding | None]:
        """Show the model one sentence (`near`) and ask for the answer in that sentence's own
        words; accept it only if it grounds there."""
        prompt = prompts.load("copy").format(sentence=near.quote, question=question)
        copied = parse(complete(gen, [{"role": "user", "content": prompt}], self.config.max_tokens, ["\n"])).answer
        where = ground(copied, question, [passages[near.passage]]) if copied else None
        return (copied, replace(where, passage=near.passage)) if where else (answer, None)

    def _other_year(self, part: Part, passage: int, quote: str) -> bool:
        """Does the quote speak of years other than the one the question asks about (`year_check`)?"""
        return self.config.year_check and other_year(part.info.years, quote, part.passages[passage].date)

    def _about_title(self, question: str, passage: Passage) -> bool:
        """Do the question's words (IDF-weighted) stand mostly in the passage's title?"""
        terms = set(tokens(question))
        weight = {t: self.index.idf(t) for t in terms}
        title = set(tokens(passage.title))
        return sum(w for t, w in weight.items() if t in title) >= 0.5 * (sum(weight.values()) or 1.0)


def after_echo(answer: str, question: str) -> str:
    """'Russia sticks to New START central limits through 2026' -> '2026': a reply that first
    writes the whole question out (a keyword query reads like the start of a sentence) keeps
    only what follows it. (A question of a name or two, "new start", may be part of its answer.)"""
    asked = " ".join(question.lower().rstrip(" ?").split())
    said = " ".join(answer.split())
    head, after = said[: len(asked)], said[len(asked) : len(asked) + 1]
    if len(asked.split()) >= 3 and head.lower() == asked and after in (" ", ":"):  # sliced where it was compared
        return said[len(asked) :].strip(" :,–-") or answer
    return answer


def sanitized(passage: Passage) -> Passage:
    """The passage with instruction-like sentences blanked (same length, so offsets hold):
    text inside a document is data, and it can never be the support for an answer."""
    text = INSTRUCTION_LIKE_SENTENCE.sub(lambda m: " " * len(m.group(0)), passage.text)
    return passage if text == passage.text else passage.model_copy(update={"text": text})
