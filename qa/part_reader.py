"""Reading one question part with the model: the first read over all its passages, then the
retries a small model needs, each grounded like the first.

A Yes/No to a yes/no question is weighed against the model's lean; a bare Yes to a question
that asks a fact is asked again for the fact; NOT FOUND gets a second read of the first passage
alone and a third of BM25's best; an answer that grounds nowhere gets the BM25 read too."""

from __future__ import annotations

import logging
from collections import abc
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .abstention import support
from .config import QAConfig
from .generators import Generator, YesNoScorer, complete
from .grounding import ground
from .parts import Part, Read
from .reader import Reader, Reading, parse
from .retrieval import text_key
from .types import Passage, Status
from .verifier import Verifier, sanitized
from .yesno import NOT_YESNO, YES_NO_WORDS, YESNO, bare, calibrated

log = logging.getLogger(__name__)
# What the chat shows while the model is asked again (its first reply will not be the answer).
READING_AGAIN = "Not found among the passages at first; reading the best one on its own…"
READING_LEXICAL = "Not found in it either; reading the passage that matches the question's words best…"
READING_UNGROUNDED = "That answer is not in the passages; reading the passage that matches the question's words best…"
# Shown while a streamed Yes/No is weighed (it may turn): the words so far are not yet the answer.
WEIGHING_YES_NO = "Checking whether the passages tip the answer to Yes or No…"
ASKING_FOR_THE_FACT = "The model answered yes or no to a question that asks for a fact; asking it for the fact…"


@dataclass
class PartReader:
    """Reads each part with `gen`; `failed` says why the backend gave no reply (if it failed)."""

    reader: Reader
    config: QAConfig
    gen: Generator
    verifier: Verifier
    backend: str
    failed: str = ""

    def read(self, part: Part) -> abc.Generator[str | Status, None, Read]:
        """Yield the model's text as it comes and a Status whenever it is asked again; return
        the part's grounded reading."""
        gen = self.gen
        raw: list[str] = []
        chat = self.reader.prompt(part.question, part.passages, part.qvec)
        try:
            for piece in self.reader.read(gen, chat, self.config.max_tokens):
                raw.append(piece)
                yield piece
        except Exception as exc:  # server down, timeout: the extractive answer stands
            log.warning("the %s backend failed: %s", self.backend, exc)
            self.failed = f"the {self.backend} backend failed ({type(exc).__name__}); extractive answer shown"
            raw = []
        reading = parse("".join(raw)) if raw else None
        if reading is not None and (scorer := self._yes_no_scorer(part, reading)) is not None:
            yield Status(text=WEIGHING_YES_NO)
            reading = calibrated(scorer, part.question, reading, chat, self.config.yes_no_opposite)
        if bare(part.info.kind, reading):
            yield Status(text=ASKING_FOR_THE_FACT)
            reading = self._ask_for_the_fact(part)
        answered = reading is not None and reading.found  # the model gave an answer (not NOT FOUND, not down)
        if reading is not None and not reading.found and self.config.reread:
            yield Status(text=READING_AGAIN)
            reading = self._reread(part) or reading
            if bare(part.info.kind, reading):  # read alone, the passage is a claim to confirm
                yield Status(text=ASKING_FOR_THE_FACT)
                reading = self._reread(part, for_the_fact=True) or reading
            if self.config.reread_lexical and not self._stands(part, reading):
                if (other := _other_lexical(part)) is not None:
                    yield Status(text=READING_LEXICAL)
                    reading = self._read_lexical(part, other) or reading
        done = yield from self.verifier.verify(part, reading)
        # An answer that stands in no passage: BM25's best passage, read alone, may hold the fact.
        fact = part.info.kind != "yesno"
        if done.reason == "ungrounded" and fact and answered and self.config.reread_lexical:
            if (lexical := part.lexical()) is not None:
                yield Status(text=READING_UNGROUNDED)
                if (again := self._read_lexical(part, lexical)) is not None:
                    done = yield from self.verifier.verify(part, again)
        return done

    def _stands(self, part: Part, reading: Reading) -> bool:
        """Did the second read find a fact that the first passage holds, and covers enough of the
        question for the threshold to let it stand? If not, BM25's best passage is read too: a
        fact the threshold will refuse ends nothing. (A yes/no verdict always stands.)"""
        if part.info.kind == "yesno" or not part.passages:
            return True
        first = part.passages[0]
        if not reading.found or ground(reading.answer, part.question, [sanitized(first)]) is None:
            return False
        return support(part.question, first, self.verifier.index, fact=True) >= self.config.abstain_threshold

    def _yes_no_scorer(self, part: Part, reading: Reading) -> YesNoScorer | None:
        """The backend, when its reply is Yes or No to a yes/no question and it reports its lean."""
        yes_no = part.info.kind == "yesno" and YESNO.match(reading.answer) is not None
        return self.gen if yes_no and self.config.calibrate_yes_no and isinstance(self.gen, YesNoScorer) else None

    def _ask_for_the_fact(self, part: Part) -> Reading:
        """A keyword query reads like a claim to confirm ("obama nuclear budget hike 2016" ->
        "Yes"): ask once more, saying so, with Yes and No banned where the backend can ban them
        (the model then gives its best fact, which is grounded and thresholded like any other)."""
        log.info("yes/no reply to %r: asked again for the fact", part.question)
        asked = self.reader.prompt(part.question, part.passages, part.qvec, NOT_YESNO)
        reply = self.reader.read(self.gen, asked, self.config.max_tokens, YES_NO_WORDS)
        return parse("".join(reply), NOT_YESNO)

    def _reread(self, part: Part, for_the_fact: bool = False) -> Reading | None:
        """The model found nothing among all the passages: let it read the first one alone and
        whole (a small model overlooks an answer among many). Its answer is grounded and
        thresholded like any other. `for_the_fact`: the same, asked as `_ask_for_the_fact` asks."""
        if not part.passages:
            return None
        note, ban = (NOT_YESNO, YES_NO_WORDS) if for_the_fact else ("", ())
        reading = self._read_alone(part.question, part.passages[0], note, ban)
        return replace(reading, cited=[0]) if reading.found else None

    def _read_alone(self, question: str, passage: Passage, note: str = "", ban: Sequence[str] = ()) -> Reading:
        """The model reads one passage alone and whole (up to the word budget)."""
        text = " ".join(passage.text.split()[: self.reader.budget_words])
        messages = self.reader.messages(
            question, [passage], [text], may_refuse=not self.config.reread_must_answer, note=note
        )
        return parse(complete(self.gen, messages, self.config.max_tokens, ["\n"], ban), note)

    def _read_lexical(self, part: Part, lexical: Passage) -> Reading | None:
        """The first passage read alone gave nothing it holds: read BM25's best passage alone.
        A terse query's words can pick the answering passage that the dense search ranks far
        down. Its answer counts only if that passage holds it; the passage then joins the part's
        passages (if fusion left it out), so it can be cited."""
        reading = self._read_alone(part.question, lexical, ban=YES_NO_WORDS)  # the question asks a fact
        log.info("the passage BM25 ranks first, read alone for %r: %r", part.question, reading)
        if not reading.found or ground(reading.answer, part.question, [sanitized(lexical)]) is None:
            return None
        at = next((i for i, p in enumerate(part.passages) if p.id == lexical.id), None)
        if at is None:
            part.passages.append(lexical)
            at = len(part.passages) - 1
        return replace(reading, cited=[at])


def _other_lexical(part: Part) -> Passage | None:
    """BM25's best passage, unless it is the first passage, just read (a snippet may be stored twice)."""
    lexical, first = part.lexical(), part.passages[0]
    if lexical is None or lexical.id == first.id or text_key(lexical.text) == text_key(first.text):
        return None
    return lexical
