"""The answer pipeline the CLI, the UI and eval share:

rewrite follow-up -> split multi-part -> retrieve (hybrid) -> read (instruct LLM over compact
passages) -> ground and cite (the answer's facts must stand in a passage) -> abstain (support
below the measured threshold). `extractive` skips the LLM: the rule reader picks the span
(fast mode, and the fallback when a model answer cannot be grounded).
"""

from __future__ import annotations

import logging
import re
import time
from collections import abc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import prompts
from vectorstore import ChunkStore, RagqaError

from .abstention import support
from .config import QAConfig
from .extractive import ExtractiveReader
from .generators import Generator, YesNoScorer, complete, make_generator
from .grounding import (
    Grounding,
    as_written,
    best_sentence,
    closest,
    complete_date,
    dated,
    dated_sentence,
    ground,
    other_year,
    sharpen_year,
)
from .parts import Part, Read, citations, compose_extractive, compose_read
from .question import analyze, define_term, definition_pattern, joined, split_parts
from .reader import Reader, Reading, parse
from .retrieval import HybridRetriever, Retriever, text_key
from .rewrite import main_entity, needs_rewrite, rewrite, split_chat, split_question
from .text import ACRONYM, stem, tokens
from .types import Answer, Filters, Passage, Status
from .vectors import SentenceVectors
from .yesno import NOT_YESNO, YES_NO_WORDS, YESNO, bare, calibrated

log = logging.getLogger(__name__)
ABSTAIN = "The documents don't say."
# What the chat shows while the model is asked again (its first reply will not be the answer).
READING_AGAIN = "Not found among the passages at first; reading the best one on its own…"
READING_LEXICAL = "Not found in it either; reading the passage that matches the question's words best…"
READING_UNGROUNDED = "That answer is not in the passages; reading the passage that matches the question's words best…"
# Shown while a streamed Yes/No is weighed (it may turn): the words so far are not yet the answer.
WEIGHING_YES_NO = "Checking whether the passages tip the answer to Yes or No…"
COPYING = "Checking the answer against the passage's own words…"
ASKING_FOR_THE_FACT = "The model answered yes or no to a question that asks for a fact; asking it for the fact…"
INSTRUCTION_LIKE_SENTENCE = re.compile(
    r"[^.!?\n]*\b(?:ignore (?:all |any )?(?:previous|prior|above) instructions|disregard [^.!?\n]{0,20}instructions|you are now)\b[^.!?\n]*[.!?]?",
    re.I,
)


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
        restore = self.retriever.index.restore_case
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
            texts = split_question(standalone, lambda q: complete(gen, split_chat(q), 60))
        asked = [(texts[0], "")] + [self._elliptic(t, texts[0], gen) for t in texts[1:]]
        narrowed = self._narrowed(named, history, last_cited, filters)
        parts = [self._part(q, filters, k, context=context, narrowed=narrowed) for q, context in asked]
        parts = self._carry_over(parts, filters, k)
        timings = {"retrieve": (time.perf_counter() - t0) * 1000}
        fallback = False
        if gen is None:
            text, cited = compose_extractive(parts)
            abstained = all(part.abstain for part in parts)
            score = min((p.best.support if p.best else 0.0) for p in parts)
        else:
            read: list[Read] = []
            for i, part in enumerate(parts):
                if len(parts) > 1:
                    yield Status(text=f"Part {i + 1} of {len(parts)}: {part.question}")
                raw: list[str] = []
                chat = self.reader.prompt(part.question, part.passages, part.qvec)
                try:
                    for piece in self.reader.read(gen, chat, self.config.max_tokens):
                        raw.append(piece)
                        yield piece
                except Exception as exc:  # server down, timeout: the extractive answer stands
                    log.warning("the %s backend failed: %s", backend, exc)
                    notice = f"the {backend} backend failed ({type(exc).__name__}); extractive answer shown"
                    raw = []
                reading = parse("".join(raw)) if raw else None
                if reading is not None and (scorer := self._yes_no_scorer(gen, part, reading)) is not None:
                    yield Status(text=WEIGHING_YES_NO)
                    reading = calibrated(scorer, part.question, reading, chat, self.config.yes_no_opposite)
                if bare(part.info.kind, reading):
                    yield Status(text=ASKING_FOR_THE_FACT)
                    reading = self._ask_for_the_fact(gen, part)
                answered = reading is not None and reading.found  # the model gave an answer (not NOT FOUND, not down)
                if reading is not None and not reading.found and self.config.reread:
                    yield Status(text=READING_AGAIN)
                    reading = self._reread(gen, part) or reading
                    if bare(part.info.kind, reading):  # read alone, the passage is a claim to confirm
                        yield Status(text=ASKING_FOR_THE_FACT)
                        reading = self._reread(gen, part, for_the_fact=True) or reading
                    if self.config.reread_lexical and not self._holds(part, reading):
                        if (other := self._other_lexical(part)) is not None:
                            yield Status(text=READING_LEXICAL)
                            reading = self._read_lexical(gen, part, other) or reading
                done = yield from self._ground(part, reading, gen)
                # An answer that stands in no passage: BM25's best passage, read alone, may hold the fact.
                fact = part.info.kind != "yesno"
                if done.reason == "ungrounded" and fact and answered and self.config.reread_lexical:
                    if (lexical := part.lexical()) is not None:
                        yield Status(text=READING_UNGROUNDED)
                        if (again := self._read_lexical(gen, part, lexical)) is not None:
                            done = yield from self._ground(part, again, gen)
                read.append(done)
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

    def _yes_no_scorer(self, gen: Generator, part: Part, reading: Reading) -> YesNoScorer | None:
        """The backend, when its reply is Yes or No to a yes/no question and it reports its lean."""
        yes_no = part.info.kind == "yesno" and YESNO.match(reading.answer) is not None
        return gen if yes_no and self.config.calibrate_yes_no and isinstance(gen, YesNoScorer) else None

    def _ask_for_the_fact(self, gen: Generator, part: Part) -> Reading:
        """A keyword query reads like a claim to confirm ("obama nuclear budget hike 2016" ->
        "Yes"): ask once more, saying so, with Yes and No banned where the backend can ban them
        (the model then gives its best fact, which is grounded and thresholded like any other)."""
        log.info("yes/no reply to %r: asked again for the fact", part.question)
        asked = self.reader.prompt(part.question, part.passages, part.qvec, NOT_YESNO)
        reply = self.reader.read(gen, asked, self.config.max_tokens, YES_NO_WORDS)
        return parse("".join(reply))

    def _reread(self, gen: Generator, part: Part, for_the_fact: bool = False) -> Reading | None:
        """The model found nothing among all the passages: let it read the first one alone and
        whole (a small model overlooks an answer among many). Its answer is grounded and
        thresholded like any other. `for_the_fact`: the same, asked as `_ask_for_the_fact` asks."""
        if not part.passages:
            return None
        note, ban = (NOT_YESNO, YES_NO_WORDS) if for_the_fact else ("", ())
        reading = self._read_alone(gen, part.question, part.passages[0], note, ban)
        return replace(reading, cited=[0]) if reading.found else None

    def _read_alone(
        self, gen: Generator, question: str, passage: Passage, note: str = "", ban: Sequence[str] = ()
    ) -> Reading:
        """The model reads one passage alone and whole (up to the word budget)."""
        text = " ".join(passage.text.split()[: self.reader.budget_words])
        messages = self.reader.messages(
            question, [passage], [text], may_refuse=not self.config.reread_must_answer, note=note
        )
        return parse(complete(gen, messages, self.config.max_tokens, ["\n"], ban))

    @staticmethod
    def _holds(part: Part, reading: Reading) -> bool:
        """Did the second read find a fact that its passage holds? (A yes/no verdict always stands.)"""
        if part.info.kind == "yesno" or not part.passages:
            return True
        return reading.found and ground(reading.answer, part.question, [_sanitized(part.passages[0])]) is not None

    @staticmethod
    def _other_lexical(part: Part) -> Passage | None:
        """BM25's best passage, unless it is the first passage, just read (a snippet may be stored twice)."""
        lexical, first = part.lexical(), part.passages[0]
        if lexical is None or lexical.id == first.id or text_key(lexical.text) == text_key(first.text):
            return None
        return lexical

    def _read_lexical(self, gen: Generator, part: Part, lexical: Passage) -> Reading | None:
        """The first passage read alone gave nothing it holds: read BM25's best passage alone.
        A terse query's words can pick the answering passage that the dense search ranks far
        down. Its answer counts only if that passage holds it; the passage then joins the part's
        passages (if fusion left it out), so it can be cited."""
        reading = self._read_alone(gen, part.question, lexical, ban=YES_NO_WORDS)  # the question asks a fact
        log.info("the passage BM25 ranks first, read alone for %r: %r", part.question, reading)
        if not reading.found or ground(reading.answer, part.question, [_sanitized(lexical)]) is None:
            return None
        at = next((i for i, p in enumerate(part.passages) if p.id == lexical.id), None)
        if at is None:
            part.passages.append(lexical)
            at = len(part.passages) - 1
        return replace(reading, cited=[at])

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

    def _ground(
        self, part: Part, reading: Reading | None, gen: Generator | None = None
    ) -> abc.Generator[Status, None, Read]:
        """Accept the model's answer where a passage holds its facts; otherwise fall back to
        the extractive answer (if it is supported) or abstain. Yields a Status before the model
        is asked again, since its streamed words may then not be the answer."""
        if reading is not None and not reading.found:
            return Read(part, "", None, abstain=True, reason="model")  # score 0: the model found nothing
        if reading is not None:
            named = reading.cited[0] if reading.cited and reading.cited[0] < len(part.passages) else 0
            said = YESNO.match(reading.answer) if part.info.kind == "yesno" else None
            yesno = said is not None
            answer, where = _after_echo(reading.answer, part.question), None
            clean = [_sanitized(p) for p in part.passages]
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
                elif header is not None and gen is not None:  # the header's date, not the event's:
                    near = dated_sentence(part.question, clean[header[1].passage], header[1].passage)
                    if near is not None:  # ask for the date the passage's own words give
                        yield Status(text=COPYING)
                        answer, where = self._copy(gen, part.question, answer, clean, near)
                # A paraphrase: let the model copy its words from the sentence it most likely read.
                if where is None and gen is not None and (near := closest(answer, part.question, clean, reading.cited)):
                    yield Status(text=COPYING)
                    answer, where = self._copy(gen, part.question, answer, clean, near)
            if (
                where is not None
                and self.config.year_check
                and other_year(part.info.years, where.quote, part.passages[where.passage].date)
            ):
                where = None  # read in a sentence about another year: not an answer to this one
            if where is not None:
                cited = part.passages[where.passage]
                if not yesno:
                    answer = complete_date(as_written(answer, where.quote), where.quote, cited.date)
                    sharper = sharpen_year(answer, part.question, clean, where)
                    if sharper is not None:
                        answer, where = sharper
                        cited = part.passages[where.passage]
                score = support(part.question, cited, self.retriever.index, fact=not yesno)
                return Read(part, answer, where, score < self.config.abstain_threshold, score, yesno=yesno)
        # A fallback without a typed span would be a bare quote: never a right answer when measured.
        if part.abstain or part.best is None or not part.best.span:
            return Read(part, "", None, abstain=True, reason="ungrounded")
        best = part.best
        where = Grounding(best.passage, best.start, best.end, best.text)
        return Read(part, best.span, where, False, best.support, fallback=True)

    def _about_title(self, question: str, passage: Passage) -> bool:
        """Do the question's words (IDF-weighted) stand mostly in the passage's title?"""
        terms = set(tokens(question))
        weight = {t: self.retriever.index.idf(t) for t in terms}
        title = set(tokens(passage.title))
        return sum(w for t, w in weight.items() if t in title) >= 0.5 * (sum(weight.values()) or 1.0)

    # ------------------------------------------------------------------------------
    @staticmethod
    def _narrowed(
        question: str, history: Sequence[tuple[str, str]], cited: Sequence[str], filters: Filters | None
    ) -> Filters | None:
        """A follow-up ("who announced it?") is about what the last answer was read in: search
        those documents first. Other treaties state the same relation ("Trump announced" the
        Open Skies exit) and outrank the conversation's own document otherwise."""
        filters = filters or Filters()
        if not (history and cited and needs_rewrite(question)) or filters.sources or main_entity(question):
            return None  # "what about the CFE treaty?" names its own subject: not the last answer's document
        return filters.model_copy(update={"sources": list(dict.fromkeys(cited))})

    def _part(
        self,
        question: str,
        filters: Filters | None,
        k: int | None,
        extra: str = "",
        context: str = "",
        narrowed: Filters | None = None,
    ) -> Part:
        """`extra`: the entity an earlier part's answer named, searched with and named in the answer;
        `context`: an earlier part's words, only searched with; `narrowed`: filters tried first,
        kept when their best passage supports the question (a follow-up in the last turn's documents)."""
        info = analyze(question)
        if extra:
            info.entities += analyze(extra).entities
        query = " ".join(x for x in (question, extra, context) if x)
        pattern = definition_pattern(define_term(question)) if info.kind == "define" else None
        qvec = self.retriever.embed_query(query)
        passages: list[Passage] = []
        searched_in: tuple[str, ...] = ()
        if narrowed is not None:
            passages = self.retriever.retrieve(
                query, k or self.config.k, narrowed, qvec, pattern, siblings=self.config.siblings
            )
            index = self.retriever.index
            if not passages or support(question, passages[0], index) < self.config.abstain_threshold:
                passages = []  # the last turn's documents do not cover this question: search them all
            else:
                searched_in = tuple(narrowed.sources)
        if not passages:
            passages = self.retriever.retrieve(
                query, k or self.config.k, filters, qvec, pattern, siblings=self.config.siblings
            )
        other = self._other_treaty(question, passages)
        passages = [p for p in passages if not other(p)]
        vector = qvec if query == question else None
        searched = narrowed if searched_in else filters

        def lexical() -> Passage | None:
            best = self.retriever.lexical_best(query, searched)
            return None if best is None or other(best) else best

        return Part(
            question,
            info,
            passages,
            qvec,
            lambda: self.extractive.candidates(info, passages, vector),
            lexical,
            self.config.extractive_threshold,
            extra,
            searched_in,
        )

    def _other_treaty(self, question: str, passages: list[Passage]) -> Callable[[Passage], bool]:
        """Which passages belong to a treaty other than the one the question names by acronym.
        "cfe withdrawal notice days" asks about the CFE Treaty's text: Open Skies' clause on the
        same matter ("30 days" to convene a conference) grounds, but answers another treaty.
        News and statutes about the named treaty stay. Nothing is left out unless a passage of
        the named treaty is among them (the acronym may name something else). A treaty the
        documents name but hold no text of ("inf treaty enter force": "the INF Treaty" in a
        statute) is not in any treaty text that never writes its acronym (the CFE Treaty's
        own entry into force), if passages other than those remain."""
        if not self.config.named_treaty_only:
            return _never
        index = self.retriever.index
        titled = index.acronym_titles(question)
        named = {d for docs in titled.values() for d in docs}
        if any(p.doc_type == "treaty" and p.doc_id in named for p in passages):
            return lambda p: p.doc_type == "treaty" and p.doc_id not in named
        textless = [
            stem(a.lower())
            for a in set(ACRONYM.findall(question))
            if a not in titled and a in index.acronyms and index.names_treaty(a)
        ]
        if not textless:
            return _never

        def other(p: Passage) -> bool:
            return p.doc_type == "treaty" and not any(a in index.doc_vocab(p.doc_id) for a in textless)

        return other if not all(other(p) for p in passages) else _never

    def _carry_over(self, parts: list[Part], filters: Filters | None, k: int | None) -> list[Part]:
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


def _never(passage: Passage) -> bool:
    return False


def _unique(passages: list[Passage]) -> list[Passage]:
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out


def _after_echo(answer: str, question: str) -> str:
    """'Russia sticks to New START central limits through 2026' -> '2026': a reply that first
    writes the whole question out (a keyword query reads like the start of a sentence) keeps
    only what follows it. (A question of a name or two, "new start", may be part of its answer.)"""
    asked = " ".join(question.lower().rstrip(" ?").split())
    said = " ".join(answer.split())
    head, after = said[: len(asked)], said[len(asked) : len(asked) + 1]
    if len(asked.split()) >= 3 and head.lower() == asked and after in (" ", ":"):  # sliced where it was compared
        return said[len(asked) :].strip(" :,–-") or answer
    return answer


def _sanitized(passage: Passage) -> Passage:
    """The passage with instruction-like sentences blanked (same length, so offsets hold):
    text inside a document is data, and it can never be the support for an answer."""
    text = INSTRUCTION_LIKE_SENTENCE.sub(lambda m: " " * len(m.group(0)), passage.text)
    return passage if text == passage.text else passage.model_copy(update={"text": text})
