"""The answer pipeline the CLI, the UI and eval share:

rewrite follow-up -> split multi-part -> hybrid retrieval -> extractive reader
-> (optional) LLM phrasing -> citation verification -> answer or abstention.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from vectorstore import ChunkStore, RagqaError

from .config import QAConfig
from .dates import normalise_numbers
from .extractive import Candidate, ExtractiveReader, best_span, common_names, trim_quote
from .generators import Generator, make_generator
from .question import QuestionInfo, analyze, define_term, definition_pattern, split_parts
from .retrieval import HybridRetriever
from .rewrite import main_entity, rewrite
from .types import Answer, Citation, Filters, Passage
from .verify import facts, verify, with_markers

log = logging.getLogger(__name__)
ABSTAIN = "The documents don't say."
MARKER_ONLY = re.compile(r"\[\d+\]")
INSTRUCTION_LIKE_SENTENCE = re.compile(
    r"[^.!?\n]*\b(?:ignore (?:all |any )?(?:previous|prior|above) instructions|disregard [^.!?\n]{0,20}instructions|you are now)\b[^.!?\n]*[.!?]?",
    re.I,
)
INSTRUCTION_LIKE = re.compile(
    r"\b(ignore (all |any )?(previous|prior|above) instructions|disregard .{0,20}instructions|you are now|system prompt)\b",
    re.I,
)


@dataclass
class _Part:
    question: str
    info: QuestionInfo
    passages: list[Passage]
    best: Candidate | None
    abstain: bool


class Answerer:
    """Loads the retriever (and the LLM, if asked for) once; answers many questions."""

    def __init__(self, store: ChunkStore, config: QAConfig) -> None:
        self.store = store
        self.config = config
        self.retriever = HybridRetriever(store, config)
        self.reader = ExtractiveReader(store.embedder, self.retriever.index, config.sentences)
        self._generators: dict[str, Generator | None] = {}

    def refresh(self) -> None:
        """Pick up newly ingested documents."""
        self.retriever.refresh()
        self.reader.index = self.retriever.index

    def generator(self, backend: str) -> Generator | None:
        if backend not in self._generators:
            self._generators[backend] = make_generator(self.config, backend)
        return self._generators[backend]

    # ------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        filters: Filters | None = None,
        backend: str | None = None,
        k: int | None = None,
    ) -> Answer:
        answer: Answer | None = None
        for item in self.stream(question, history, filters, backend, k):
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
    ) -> Iterator[str | Answer]:
        """Yield generated text as it comes (LLM backends), then the final verified Answer."""
        backend = backend or self.config.llm
        question = " ".join(question.split())
        if not question:
            raise RagqaError("empty question: type a question about the documents")
        t0 = time.perf_counter()
        gen, backend_note = None, ""
        if backend != "extractive":
            try:
                gen = self.generator(backend)
            except RagqaError as exc:  # e.g. the local model is not installed
                backend_note = f"{backend} backend unavailable ({exc}); extractive answer shown"
        complete = getattr(gen, "complete", None)
        standalone = self.retriever.index.restore_case(rewrite(question, history, complete))
        parts = [self._part(q, filters, k) for q in split_parts(standalone)]
        parts = self._carry_over(parts, filters, k)
        t_retrieve = time.perf_counter()
        draft, cited = self._compose(parts)
        timings = {"retrieve": (t_retrieve - t0) * 1000}
        passages = _unique([p for part in parts for p in part.passages])
        abstained = all(part.abstain for part in parts)
        fallback, notice, text = False, backend_note, draft
        if gen is not None and not abstained:
            evidence_passages = [_sanitized(c) for c, _ in cited]
            evidence = "\n".join(f"[{i + 1}] {trim_quote(q.text, '', 400)}" for i, (_, q) in enumerate(cited))
            chunks: list[str] = []
            try:
                for piece in gen.stream(standalone, evidence):
                    chunks.append(piece)
                    yield piece
                generated = "".join(chunks).strip()
            except Exception as exc:  # server down, timeout, garbage: the extractive answer stands
                generated = ""
                notice = f"the {backend} backend failed ({type(exc).__name__}); extractive answer shown"
            final = self._check(generated, evidence_passages, parts) if generated else None
            if final is None:
                fallback = True
                notice = (
                    notice or f"the {backend} answer could not be verified against the sources; extractive answer shown"
                )
            else:
                text, cited = final
        timings["generate"] = (time.perf_counter() - t_retrieve) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        citations = [] if abstained else self._citations(cited)
        yield Answer(
            question=question,
            rewritten_question=standalone,
            answer=ABSTAIN if abstained else text,
            abstained=abstained,
            backend=backend,
            citations=citations,
            passages=passages,
            notice=notice,
            fallback=fallback,
            timings_ms={k: round(v, 1) for k, v in timings.items()},
        )

    # ------------------------------------------------------------------------------
    def _part(self, question: str, filters: Filters | None, k: int | None, extra: str = "") -> _Part:
        info = analyze(question)
        if extra:
            info.entities += analyze(extra).entities
        query = f"{question} {extra}".strip()
        pattern = definition_pattern(define_term(question)) if info.kind == "define" else None
        qvec = self.retriever.embed_query(query)
        passages = self.retriever.retrieve(query, k=k or self.config.k, filters=filters, vector=qvec, pattern=pattern)
        cands = self.reader.candidates(info, passages, qvec if not extra else None)
        best = cands[0] if cands else None
        abstain = best is None or best.support < self.config.abstain_threshold
        return _Part(question, info, passages, best, abstain)

    def _carry_over(self, parts: list[_Part], filters: Filters | None, k: int | None) -> list[_Part]:
        """'..., and where was that treaty signed?': search the later part with the entity
        the earlier part's answer named."""
        for i in range(1, len(parts)):
            prev = parts[i - 1]
            if prev.best is None or not re.search(r"\b(that|this|the|it|its)\b", parts[i].question, re.I):
                continue
            entity = prev.best.span if prev.info.kind == "treaty" and prev.best.span else main_entity(prev.best.text)
            if entity:
                parts[i] = self._part(parts[i].question, filters, k, extra=entity)
        return parts

    def _compose(self, parts: list[_Part]) -> tuple[str, list[tuple[Passage, Candidate]]]:
        """The extractive answer: per part, the span and its quote with a marker."""
        sentences: list[str] = []
        cited: list[tuple[Passage, Candidate]] = []
        for part in parts:
            if part.abstain or part.best is None:
                if len(parts) > 1:
                    sentences.append(
                        f"The documents don't say {part.question[0].lower()}{part.question[1:].rstrip('?')}."
                    )
                continue
            best = part.best
            passage = part.passages[best.passage]
            cited.append((passage, best))
            n = len(cited)
            # Without a typed span, a list after a colon is usually what was asked ("the following five categories: ...").
            focus = best.span or best.text.partition(":")[2].strip()[:40]
            quote = trim_quote(best.text, focus, 220 if len(parts) == 1 else 130)
            if best.span and part.info.kind == "yesno":
                sentences.append(f"{best.span} [{n}] — “{quote}”")
            elif best.span:
                if part.info.kind == "number":
                    best.span = normalise_numbers(best.span)  # "forty" -> "forty (40)"
                shown = best.span
                if part.info.kind == "date" and re.search(r"\bwhere\b", part.question, re.I):
                    place, _ = best_span(replace(part.info, kind="place"), best.text, passage.date)
                    shown += f", at {place}" if place else ""  # "when and where was it signed?"
                about = (
                    f" ({passage.title})"
                    if re.search(r"\b(that|this|the) treaty\b", part.question, re.I) and best.span not in passage.title
                    else ""
                )
                sentences.append(f"{shown}{about} [{n}] — “{quote}”")
            else:
                names = common_names(best.text)
                lead = f"{', '.join(names[:-1])} and {names[-1]} [{n}] — " if len(names) >= 2 else ""
                sentences.append(f"{lead}“{quote}”" + ("" if lead else f" [{n}]"))
        return " ".join(sentences), cited

    def _check(
        self, generated: str, passages: list[Passage], parts: list[_Part]
    ) -> tuple[str, list[tuple[Passage, Candidate]]] | None:
        """Accept an LLM answer only if verification keeps it and it carries the facts asked for."""
        if not self.config.verify:
            text = generated.strip()
            if not MARKER_ONLY.sub("", text).strip() or "documents don't say" in text.lower():
                return None
            cands = [self._candidate_for(p, text) for p in passages]
            return text, list(zip(passages, cands, strict=True))
        if INSTRUCTION_LIKE.search(generated) or "documents don't say" in generated.lower() or _degenerate(generated):
            return None
        checked = verify(generated, passages)
        if not checked.ok:
            return None
        if not _agrees(checked.text, parts):
            return None
        typed = [p for p in parts if p.info.kind in ("date", "year", "number", "person", "place") and not p.abstain]
        if typed and not any(facts(c) for c, _ in checked.kept):
            return None  # asked for a date/number/name and got none
        used = sorted({i for _, i in checked.kept})
        renumber = {old: new for new, old in enumerate(used)}
        text = " ".join(with_markers(claim, [renumber[i]]) for claim, i in checked.kept)
        first_claim: dict[int, str] = {}
        for claim, i in checked.kept:
            first_claim.setdefault(i, claim)
        return text, [(passages[i], self._candidate_for(passages[i], first_claim[i])) for i in used]

    def _candidate_for(self, passage: Passage, claim: str) -> Candidate:
        """The passage sentence that best supports a claim (for the citation's quote)."""
        from .text import sentences, tokens

        words = set(tokens(claim))
        best = max(sentences(passage.text, passage.start), key=lambda s: len(words & set(tokens(s[2]))), default=None)
        if best is None:
            return Candidate(0, passage.start, passage.end, passage.text)
        return Candidate(0, best[0], best[1], best[2])

    @staticmethod
    def _citations(cited: list[tuple[Passage, Candidate]]) -> list[Citation]:
        return [
            Citation(
                n=i + 1,
                source=p.file_name,
                path=p.source,
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


def _unique(passages: list[Passage]) -> list[Passage]:
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


def _degenerate(text: str) -> bool:
    """Repetition loops and pasted passages: not an answer."""
    words = re.findall(r"\w[\w,.-]*", re.sub(r"\[\d+\]", " ", text).lower())
    if len(text) > 320 or not words:
        return True
    return any(words[i] == words[i + 1] == words[i + 2] for i in range(len(words) - 2))


def _agrees(text: str, parts: list[_Part]) -> bool:
    """The small model may phrase the answer, not change it: its yes/no and its typed
    facts must match what the evidence sentence says."""
    low = text.lower()
    for part in parts:
        best = part.best
        if part.abstain or best is None or not best.span:
            continue
        if part.info.kind == "yesno":
            said = "no" if re.match(r"^\W*no\b", low) else "yes" if re.match(r"^\W*yes\b", low) else ""
            if said and said != best.span.lower():
                return False
        elif part.info.kind in ("date", "year", "number"):
            key = re.findall(r"\d[\d,]*", best.span) or [best.span.split()[-1]]
            if not all(k.replace(",", "") in low.replace(",", "") for k in key):
                return False
    return True


def _sanitized(passage: Passage) -> Passage:
    """The passage with instruction-like sentences blanked (same length, so offsets hold):
    text inside a document is data, and it can never be the support for an answer."""
    text = INSTRUCTION_LIKE_SENTENCE.sub(lambda m: " " * len(m.group(0)), passage.text)
    return passage if text == passage.text else passage.model_copy(update={"text": text})
