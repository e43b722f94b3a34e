"""Yes/no replies of a small model, weighed before they stand.

A small model leans to "Yes" whatever the passages say (Qwen 1.5B said Yes to all 11 of our 12
yes/no questions it answered, 6 of them wrong), so its lean counts only beyond its lean for a
content-free question and for the opposite question. A bare Yes or No to a question that asks
for a fact answers nothing it asks."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import prompts

from .generators import Message, YesNoScorer, complete
from .question import analyze
from .reader import Reading, asking
from .text import WORD

log = logging.getLogger(__name__)

YESNO = re.compile(r"^\W*(yes|no)\b", re.I)
NOT_YESNO = "not a yes/no question: give the fact asked for"
CONTENT_FREE = "Yes or no?"  # a yes/no question that asks nothing: the model's lean before reading
YES_NO_WORDS = ("Yes", "No")  # a bare one answers no fact; banned when the fact is asked for (local model)


def calibrated(
    gen: YesNoScorer, question: str, reading: Reading, asked: list[Message], with_opposite: bool = True
) -> Reading:
    """Contextual calibration (Zhao et al., 2021): the model's lean to Yes for this question
    counts only beyond its lean for a content-free yes/no question over the same passages
    (`asked`, the chat the model just answered), and beyond its lean for the opposite question,
    which the model writes: a Yes to both a question and its opposite is the model's bias, not
    the passages' answer. A reply that is not Yes or No is returned as it is."""
    said = YESNO.match(reading.answer)
    if said is None:
        return reading
    lean = gen.yes_no_margin(asked)
    prior = None if lean is None else gen.yes_no_margin(asking(asked, CONTENT_FREE))  # one failed request, not two
    if lean is None or prior is None:
        return reading
    other = opposite(gen, question) if lean > prior and with_opposite else None
    against = None if other is None else gen.yes_no_margin(asking(asked, other))
    word = "Yes" if lean > prior and (against is None or lean > against) else "No"
    log.info("yes/no %r: lean %.2f, content-free %.2f, %r %s: %s", question, lean, prior, other, against, word)
    return replace(reading, answer=word + reading.answer[said.end() :])


def opposite(gen: YesNoScorer, question: str) -> str | None:
    """The model's question with the opposite answer ("… not limited …"), or None when it
    wrote no other yes/no question (the content-free calibration then decides alone)."""
    with gen.aside():  # the chat just read stays cached for the margin that follows
        written = complete(
            gen, [{"role": "user", "content": prompts.load("opposite").format(question=question).strip()}], 48
        )
    written = written.splitlines()[0].strip() if written.strip() else ""
    words = [WORD.findall(text.lower()) for text in (written, question)]  # not `tokens`: "not" is a stop word
    if words[0] == words[1] or analyze(written).kind != "yesno":
        return None
    return written


def bare(kind: str, reading: Reading | None) -> bool:
    """A bare Yes/No to a query that does not ask yes or no (`kind`) answers nothing it asks."""
    said = reading.answer.strip(" .!").lower() if reading is not None else ""
    return kind != "yesno" and said in (word.lower() for word in YES_NO_WORDS)
