"""The reader: an instruct LLM reads the question and a compact form of the top passages
(each passage's best sentences with their neighbours, its title and date) and writes a
short answer with the number of the passage it read it in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

import prompts

from .generators import Generator, Message
from .text import sentences, tokens
from .types import Passage
from .vectors import SentenceVectors

NOT_FOUND = "NOT FOUND"
QUESTION = "\n\nQuestion: "
_MARKERS = re.compile(r"\s*((?:\[\d{1,2}\][\s,.]*)+)")
_PAREN_MARKER = re.compile(r"\s+\(([1-9]\d?)\)\W*$")  # "48 million litres (1)": the model's other habit
_DATE_LABEL = re.compile(r"\s+\((?:19|20)\d{2}-\d{2}-\d{2}\)$")  # a passage header's date, copied with its title


@dataclass
class Reading:
    """What the model wrote, parsed: the short answer and the passages it named (0-based)."""

    raw: str
    answer: str
    cited: list[int]

    @property
    def found(self) -> bool:
        return bool(self.answer) and NOT_FOUND.lower() not in self.raw.lower()


def parse(raw: str, note: str = "") -> Reading:
    """'Maria Lindqvist [2].' -> answer 'Maria Lindqvist', cited [1]; a lone trailing '(2)' is
    read as the marker too. `note`: the words the prompt put after the question, which a small
    model may copy into its reply ('Ground-launched missiles (not a yes/no question: …) [1]')."""
    text = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    if note:
        text = text.replace(f"({note})", " ").replace(note, " ")
    cited = [int(n) - 1 for n in re.findall(r"\[([1-9]\d?)\]", text)]
    if not cited and (paren := _PAREN_MARKER.search(text)):
        cited, text = [int(paren.group(1)) - 1], text[: paren.start()]
    # "Barack Obama [1], Dmitry Medvedev [2]": a marker between two items keeps their comma.
    answer = _MARKERS.sub(lambda m: ", " if "," in m.group(1) and m.end() < len(text) else " ", text)
    answer = answer.strip().rstrip(".").strip()
    answer = re.sub(r"^(?:answer|short answer)\s*:\s*", "", answer, flags=re.I).strip(" \"'“”")
    answer = _DATE_LABEL.sub("", answer)
    return Reading(raw, answer, cited)


def asking(messages: list[Message], question: str) -> list[Message]:
    """The same reader prompt, passages and labels unchanged, asking `question` instead."""
    user = messages[-1]["content"]
    return [*messages[:-1], {**messages[-1], "content": user[: user.rindex(QUESTION)] + QUESTION + question}]


class Reader:
    """Builds the compact context and asks the generator."""

    def __init__(
        self,
        vectors: SentenceVectors,
        idf: Callable[[str], float],
        acronyms: Callable[[str], dict[str, str]] = lambda question: {},
        budget_words: int = 300,
    ) -> None:
        self.vectors = vectors
        self.idf = idf
        self.acronyms = acronyms  # question -> {document title: the acronym the question uses for it}
        self.budget_words = budget_words

    def excerpts(self, question: str, passages: list[Passage], qvec: np.ndarray) -> list[str]:
        """The best sentences of all passages within the word budget, each passage's in document
        order. Sentences compete across passages, so one long treaty passage cannot crowd the
        others out; the two best keep their neighbours."""
        spans = [[s[2] for s in sentences(p.text)] for p in passages]
        flat = [(pi, si) for pi, sents in enumerate(spans) for si in range(len(sents))]
        if not flat:
            return ["" for _ in passages]
        dense = self.vectors([spans[pi][si] for pi, si in flat]) @ qvec
        weight = {t: self.idf(t) for t in set(tokens(question))}  # rare question words say most
        total = sum(weight.values()) or 1.0

        def lexical(text: str) -> float:
            return sum(w for t, w in weight.items() if t in set(tokens(text))) / total

        score = {
            (pi, si): float(d) + 0.5 * lexical(spans[pi][si]) + 0.1 / (1 + pi)
            for (pi, si), d in zip(flat, dense, strict=True)
        }
        chosen: set[tuple[int, int]] = set()
        used = 0
        for rank, (pi, si) in enumerate(sorted(score, key=score.__getitem__, reverse=True)):
            picks = [si - 1, si, si + 1] if rank < 2 else [si]
            new = [(pi, j) for j in picks if 0 <= j < len(spans[pi]) and (pi, j) not in chosen]
            cost = sum(len(spans[pi][j].split()) for _, j in new)
            if used + cost > self.budget_words:
                if used >= self.budget_words * 0.8:
                    break
                continue  # too long for what is left; a shorter one may fit
            chosen.update(new)
            used += cost
        out = []
        for pi, sents in enumerate(spans):
            parts: list[str] = []
            last = -2
            for si in sorted(j for p, j in chosen if p == pi):
                parts.append(("… " if si != last + 1 and parts else "") + sents[si])
                last = si
            out.append(" ".join(parts))
        return out

    def messages(
        self, question: str, passages: list[Passage], excerpts: list[str], may_refuse: bool = True, note: str = ""
    ) -> list[Message]:
        blocks = []
        # "npt withdrawal notice": a small model does not know the treaty text is the NPT unless told.
        named = self.acronyms(question)
        for i, (p, text) in enumerate(zip(passages, excerpts, strict=True)):
            if not text:
                continue
            head = p.title + (f" ({named[p.title]})" if p.title in named else "") + (f" ({p.date})" if p.date else "")
            path = p.section.split(" › ")
            section = " › ".join(path[1:] if path[0] == p.title else path)  # the title is not said twice
            label = " — ".join(x for x in (head.strip(), section) if x)
            blocks.append(f"[{i + 1}] {label}".rstrip() + f"\n{text}")
        user = "Passages:\n" + "\n\n".join(blocks) + f"{QUESTION}{question}" + (f" ({note})" if note else "")
        # The system prompt is the same for every question, so llama.cpp keeps its KV cache.
        system = prompts.load("reader_system")
        if not may_refuse:  # the second read: our grounding and threshold refuse, not the model
            system = "\n".join(line for line in system.splitlines() if NOT_FOUND not in line)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def prompt(self, question: str, passages: list[Passage], qvec: np.ndarray, note: str = "") -> list[Message]:
        """The reader's chat over the passages' best sentences. `note` follows the question in
        brackets (the excerpt is chosen for the question alone)."""
        return self.messages(question, passages, self.excerpts(question, passages, qvec), note=note)

    @staticmethod
    def read(gen: Generator, messages: list[Message], max_tokens: int = 40, ban: Sequence[str] = ()) -> Iterator[str]:
        """Stream the model's raw reply: one line."""
        yield from gen.chat(messages, max_tokens, ["\n"], ban)
