"""Search, per question part: its passages, scoped to what the question is about.

A follow-up is looked for first in the documents the last answer cited; a question that names a
treaty by acronym is read in that treaty's text, not another's; a later part that refers back
("… and where was that treaty signed?") is searched with the entity the earlier part named."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .abstention import support
from .config import QAConfig
from .extractive import ExtractiveReader
from .parts import Part
from .question import analyze, define_term, definition_pattern
from .retrieval import Retriever
from .rewrite import main_entity, needs_rewrite
from .text import ACRONYM, stem
from .types import Filters, Passage


def narrowed(
    question: str, history: Sequence[tuple[str, str]], cited: Sequence[str], filters: Filters | None
) -> Filters | None:
    """A follow-up ("who announced it?") is about what the last answer was read in: search
    those documents first. Other treaties state the same relation ("Trump announced" the
    Open Skies exit) and outrank the conversation's own document otherwise."""
    filters = filters or Filters()
    if not (history and cited and needs_rewrite(question)) or filters.sources or main_entity(question):
        return None  # "what about the CFE treaty?" names its own subject: not the last answer's document
    return filters.model_copy(update={"sources": list(dict.fromkeys(cited))})


@dataclass(frozen=True)
class PartSearch:
    """Finds each part's passages (built per question, so it sees the answerer's current config)."""

    retriever: Retriever
    extractive: ExtractiveReader
    config: QAConfig

    def part(
        self,
        question: str,
        filters: Filters | None,
        k: int | None,
        extra: str = "",
        context: str = "",
        first_in: Filters | None = None,
    ) -> Part:
        """`extra`: the entity an earlier part's answer named, searched with and named in the answer;
        `context`: an earlier part's words, only searched with; `first_in`: filters tried first,
        kept when their best passage supports the question (a follow-up in the last turn's documents)."""
        info = analyze(question)
        if extra:
            info.entities += analyze(extra).entities
        query = " ".join(x for x in (question, extra, context) if x)
        pattern = definition_pattern(define_term(question)) if info.kind == "define" else None
        qvec = self.retriever.embed_query(query)
        passages: list[Passage] = []
        searched_in: tuple[str, ...] = ()
        if first_in is not None:
            passages = self.retriever.retrieve(
                query, k or self.config.k, first_in, qvec, pattern, siblings=self.config.siblings
            )
            index = self.retriever.index
            if not passages or support(question, passages[0], index) < self.config.abstain_threshold:
                passages = []  # the last turn's documents do not cover this question: search them all
            else:
                searched_in = tuple(first_in.sources)
        if not passages:
            passages = self.retriever.retrieve(
                query, k or self.config.k, filters, qvec, pattern, siblings=self.config.siblings
            )
        other = self.other_treaty(question, passages)
        passages = [p for p in passages if not other(p)]
        vector = qvec if query == question else None
        searched = first_in if searched_in else filters

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

    def other_treaty(self, question: str, passages: list[Passage]) -> Callable[[Passage], bool]:
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

    def carry_over(self, parts: list[Part], filters: Filters | None, k: int | None) -> list[Part]:
        """'..., and where was that treaty signed?': search the later part with the entity
        the earlier part's answer named."""
        for i in range(1, len(parts)):
            prev = parts[i - 1]
            if prev.best is None or not re.search(r"\b(that|this|the|it|its)\b", parts[i].question, re.I):
                continue
            entity = prev.best.span if prev.info.kind == "treaty" and prev.best.span else main_entity(prev.best.text)
            if entity:
                parts[i] = self.part(parts[i].question, filters, k, extra=entity)
        return parts


def _never(passage: Passage) -> bool:
    return False
