"""The answer pipeline the CLI, the UI and eval share:

rewrite follow-up -> split multi-part -> search each part (`search`: hybrid retrieval, scoped)
-> read (`part_reader`: the instruct LLM over compact passages, and its retries) -> verify and
cite (`verifier`: the answer's facts must stand in a passage) -> abstain (support below the
measured threshold). `extractive` skips the LLM: the rule reader picks the span (fast mode,
and the fallback when a model answer cannot be grounded).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from vectorstore import ChunkStore, RagqaError

from .config import QAConfig
from .extractive import ExtractiveReader
from .generators import Generator, complete, make_generator
from .part_reader import PartReader
from .parts import Read, citations, compose_extractive, compose_read
from .question import joined, split_parts
from .reader import Reader
from .retrieval import HybridRetriever, Retriever
from .rewrite import main_entity, rewrite, split_chat, split_question
from .search import PartSearch, narrowed
from .text import tokens
from .types import Answer, Filters, Passage, Status
from .vectors import SentenceVectors
from .verifier import Verifier

ABSTAIN = "The documents don't say."


class Answerer:
    """Loads the retriever and the models once; answers many questions.

    `retriever` and `generators` are the seams: tests pass a fake retriever or a scripted
    generator instead of reaching into the object."""

    def __init__(
        self,
        store: ChunkStore,
        config: QAConfig,
        retriever: Retriever | None = None,
        generators: dict[str, Generator] | None = None,
        models_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.retriever: Retriever = retriever or HybridRetriever(store, config)
        vectors = SentenceVectors(store.embedder)  # one cache for both readers
        self.extractive = ExtractiveReader(vectors, self.retriever.index, config.sentences)
        self.reader = Reader(
            vectors, lambda term: self.retriever.index.idf(term), self._acronym_titles, config.context_words
        )
        self.models_dir = models_dir or store.config.models_dir
        self._generators: dict[str, Generator | None] = dict(generators or {})

    def _acronym_titles(self, question: str) -> dict[str, str]:
        index = self.retriever.index
        return {index.titles[d]: acro for acro, docs in index.acronym_titles(question).items() for d in docs}

    def refresh(self) -> None:
        """Pick up newly ingested documents."""
        self.retriever.refresh()
        self.extractive.index = self.retriever.index

    def generator(self, backend: str) -> Generator | None:
        """The backend's generator, built on first use and kept (a local model loads once)."""
        if backend not in self._generators:
            self._generators[backend] = make_generator(self.config, backend, self.models_dir)
        return self._generators[backend]

    def warm_up(self, question: str, backend: str | None = None) -> None:
        """Load the models and evaluate the long prompt heads (the reader's and the split's) now,
        so no user's question pays for them: the split's head alone took 1.6 s on 2 cores."""
        backend = backend or self.config.llm
        self.ask(question, backend=backend)
        gen = self._generators.get(backend)
        if gen is not None and self.config.split_with_model:
            complete(gen, split_chat(question), 1)

    # ------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        filters: Filters | None = None,
        backend: str | None = None,
        k: int | None = None,
        last_cited: Sequence[str] = (),
    ) -> Answer:
        answer: Answer | None = None
        for item in self.stream(question, history, filters, backend, k, last_cited):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        filters: Filters | None = None,
        backend: str | None = None,
        k: int | None = None,
        last_cited: Sequence[str] = (),
    ) -> Iterator[str | Status | Answer]:
        """Yield the model's text as it comes (LLM backends), a Status when a part begins or the
        model is asked again (its text so far will not be the answer), then the grounded Answer.
        `last_cited`: the files the last turn's answer cited, where a follow-up is looked for first."""
        backend = backend or self.config.llm
        question = " ".join(question.split())
        if not question:
            raise RagqaError("empty question: type a question about the documents")
        t0 = time.perf_counter()
        gen, notice = None, ""
        if backend != "extractive":
            try:
                gen = self.generator(backend)
            except RagqaError as exc:  # e.g. the local model is not installed
                notice = f"{backend} backend unavailable ({exc}); extractive answer shown"
        # Case restored before the rewrite too: "what about the cfe treaty?" names its own subject.
        restore = self.retriever.index.as_written
        typed = restore(question)
        # Names typed small ('new start') too, for what a follow-up leans on only: the search and
        # the reader see the question as typed. Without a conversation there is nothing to lean on.
        names = self.retriever.index.restore_names
        named = names(typed) if history else typed
        history = [(names(user), answer) for user, answer in history]
        rewritten = self._rewrite(named, history, gen)
        standalone = typed if rewritten == named else restore(rewritten)  # restored once, not twice
        if not tokens(standalone):  # "why?" that nothing resolved: any passage would be a guess
            yield _unsearchable(question, standalone, backend)
            return
        texts = split_parts(standalone)
        if len(texts) == 1 and gen is not None and self.config.split_with_model and joined(standalone):
            texts = split_question(standalone, lambda q: gen.chat(split_chat(q), 60))
        asked = [(texts[0], "")] + [self._elliptic(t, texts[0], gen) for t in texts[1:]]
        searched = narrowed(named, history, last_cited, filters)
        search = PartSearch(self.retriever, self.extractive, self.config)
        parts = [search.part(q, filters, k, context=context, first_in=searched) for q, context in asked]
        parts = search.carry_over(parts, filters, k)
        timings = {"retrieve": (time.perf_counter() - t0) * 1000}
        fallback = False
        if gen is None:
            text, cited = compose_extractive(parts)
            abstained = all(part.abstain for part in parts)
            score = min((p.best.support if p.best else 0.0) for p in parts)
        else:
            verifier = Verifier(self.config, self.retriever.index, gen)
            reader = PartReader(self.reader, self.config, gen, verifier, backend)
            read: list[Read] = []
            for i, part in enumerate(parts):
                if len(parts) > 1:
                    yield Status(text=f"Part {i + 1} of {len(parts)}: {part.question}")
                read.append((yield from reader.read(part)))
            notice = notice or reader.failed
            fallback = any(r.fallback for r in read)
            if not notice and any(r.fallback or r.reason == "ungrounded" for r in read):
                shown = "extractive answer shown" if fallback else "no answer shown"
                notice = f"the model's answer was not found in the passages; {shown}"
            text, cited = compose_read(read)
            abstained = all(r.abstain for r in read)
            score = min(r.score for r in read)
        timings["total"] = (time.perf_counter() - t0) * 1000
        timings["generate"] = timings["total"] - timings["retrieve"]
        yield Answer(
            question=question,
            rewritten_question=standalone,
            answer=ABSTAIN if abstained else text,
            abstained=abstained,
            backend=backend,
            citations=[] if abstained else citations(cited),
            passages=_unique([p for part in parts for p in part.passages]),
            searched_in=list(dict.fromkeys(f for part in parts for f in part.searched_in)),
            notice=notice,
            fallback=fallback,
            support=round(score, 4),
            timings_ms={k: round(v, 1) for k, v in timings.items()},
        )

    def _rewrite(
        self, question: str, history: Sequence[tuple[str, str]], gen: Generator | None, force: bool = False
    ) -> str:
        if gen is None:
            return rewrite(question, history, force=force)
        return rewrite(
            question, history, lambda prompt: complete(gen, [{"role": "user", "content": prompt}], 48), force
        )

    def _elliptic(self, part: str, first: str, gen: Generator | None) -> tuple[str, str]:
        """A later part that names nothing and shares no word with the first ("… signed where? in
        force since when") leans on the first as a follow-up leans on the last turn: rewrite it the
        same way, and search with the first part's words too (a rewrite keeps only its subject:
        "which missile" after "geneva inf talks russian negotiator?" is about those talks).
        A part that names its own subject ("… from the Treaty on Widgets") stays: (part, "")."""
        names = self.retriever.index.restore_names
        if main_entity(names(part)) or set(tokens(part)) & set(tokens(first)):
            return part, ""
        return self._rewrite(part, [(names(first), "")], gen, force=True), first


def _unsearchable(question: str, standalone: str, backend: str) -> Answer:
    """A refusal that says why: the question has no word to look for in the documents."""
    return Answer(
        question=question,
        rewritten_question=standalone,
        answer=ABSTAIN,
        abstained=True,
        backend=backend,
        notice=f"“{standalone}” names nothing to look for; ask the whole question (what it is about)",
    )


def _unique(passages: list[Passage]) -> list[Passage]:
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out
