"""The reader: an instruct LLM reads the question and a compact form of the top passages
(each passage's best sentences with their neighbours, its title and date) and writes a
short answer with the number of the passage it read it in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

import prompts
from vectorstore import Embedder

from .llm import Generator, Message
from .text import sentences, tokens
from .types import Passage

NOT_FOUND = "NOT FOUND"
_MARKERS = re.compile(r"\s*((?:\[\d{1,2}\][\s,.]*)+)")
SENTENCE_CACHE = 20_000  # sentence vectors kept (about 30 MB)


@dataclass
class Reading:
    """What the model wrote, parsed: the short answer and the passages it named (0-based)."""

    raw: str
    answer: str
    cited: list[int]

    @property
    def found(self) -> bool:
        return bool(self.answer) and NOT_FOUND.lower() not in self.raw.lower()


def parse(raw: str) -> Reading:
    """'Emma Raducanu [2].' -> answer 'Emma Raducanu', cited [1]."""
    text = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    cited = [int(n) - 1 for n in re.findall(r"\[(\d{1,2})\]", text)]
    answer = _MARKERS.sub(" ", text).strip().rstrip(".").strip()
    answer = re.sub(r"^(?:answer|short answer)\s*:\s*", "", answer, flags=re.I).strip(" \"'“”")
    return Reading(raw, answer, cited)


class Reader:
    """Builds the compact context and asks the generator; sentence vectors are cached
    because follow-ups and related questions read the same passages again."""

    def __init__(self, embedder: Embedder, budget_words: int = 340, sentences_per_passage: int = 1) -> None:
        self.embedder = embedder
        self.budget_words = budget_words
        self.per_passage = sentences_per_passage
        self._vectors: dict[str, np.ndarray] = {}

    def _embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vec in zip(missing, self.embedder.embed(missing), strict=True):
                if len(self._vectors) >= SENTENCE_CACHE:
                    self._vectors.pop(next(iter(self._vectors)))
                self._vectors[text] = vec
        return np.stack([self._vectors[t] for t in texts])

    def excerpts(self, question: str, passages: list[Passage], qvec: np.ndarray) -> list[str]:
        """Per passage, its best sentences with their neighbours, in document order."""
        spans = [sentences(p.text) for p in passages]
        flat = [s[2] for sents in spans for s in sents]
        if not flat:
            return ["" for _ in passages]
        dense = self._embed(flat) @ qvec
        q_terms = set(tokens(question))
        out, pos, used = [], 0, 0
        for sents in spans:
            texts = [s[2] for s in sents]
            scores = [
                float(dense[pos + i]) + 0.5 * len(q_terms & set(tokens(t))) / max(1, len(q_terms))
                for i, t in enumerate(texts)
            ]
            pos += len(texts)
            words = sum(len(t.split()) for t in texts)
            if words <= 70:  # short passages (news snippets) go in whole
                keep = set(range(len(texts)))
            else:
                best = sorted(range(len(texts)), key=scores.__getitem__, reverse=True)[: self.per_passage]
                keep = {j for i in best for j in (i - 1, i, i + 1) if 0 <= j < len(texts)}
            parts: list[str] = []
            last = -2
            for i in sorted(keep):
                parts.append(("… " if i != last + 1 and parts else "") + texts[i])
                last = i
            text = " ".join(parts)
            room = self.budget_words - used
            if room <= 20:
                out.append("")
                continue
            text = " ".join(text.split()[:room])
            used += len(text.split())
            out.append(text)
        return out

    def messages(self, question: str, passages: list[Passage], excerpts: list[str]) -> list[Message]:
        blocks = []
        for i, (p, text) in enumerate(zip(passages, excerpts, strict=True)):
            if not text:
                continue
            head = p.title + (f" ({p.date})" if p.date else "")
            section = p.section.split(" › ")[-1] if " › " in p.section else ""
            blocks.append(f"[{i + 1}] {head}" + (f" — {section}" if section else "") + f"\n{text}")
        user = "Passages:\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
        # The system prompt is the same for every question, so llama.cpp keeps its KV cache.
        return [{"role": "system", "content": prompts.load("reader_system")}, {"role": "user", "content": user}]

    def read(
        self, gen: Generator, question: str, passages: list[Passage], qvec: np.ndarray, max_tokens: int = 40
    ) -> Iterator[str]:
        """Stream the model's raw reply."""
        msgs = self.messages(question, passages, self.excerpts(question, passages, qvec))
        yield from gen.chat(msgs, max_tokens, stop=["\n"])
