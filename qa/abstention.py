"""Abstention: how well the cited passage's document covers what the question asks about.

A grounded answer can still answer another question ("How many warheads does France have?"
answered with the PRC's count from the same report). The support score is the IDF-weighted
share of the question's words found in the cited passage (with its title and section) and in
its whole document; the threshold is chosen from the coverage-accuracy curve (README)."""

from __future__ import annotations

from .retrieval import LexicalIndex
from .text import stem, tokens
from .types import Passage


def support(question: str, passage: Passage, index: LexicalIndex) -> float:
    """0..1: the mean of passage coverage and document coverage of the question's words."""
    terms = list(dict.fromkeys(tokens(question)))
    if not terms:
        return 1.0
    weights = [index.idf(t) for t in terms]
    total = sum(weights) or 1.0
    doc_id = passage.id.rsplit("-", 2)[0]
    # An acronym the question uses for this document's title ('CFE') is covered by the title.
    named = {stem(a.lower()) for a, docs in index.acronym_titles(question).items() if doc_id in docs}
    local = set(tokens(f"{passage.title} {passage.section} {passage.text}")) | named
    doc = index.doc_vocab(doc_id) | local
    in_passage = sum(w for t, w in zip(terms, weights, strict=True) if t in local) / total
    in_doc = sum(w for t, w in zip(terms, weights, strict=True) if t in doc) / total
    return 0.5 * in_passage + 0.5 * in_doc
