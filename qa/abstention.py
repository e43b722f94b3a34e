"""Abstention: how well the cited passage's document covers what the question asks about.

A grounded answer can still answer another question ("How many warheads does France have?"
answered with the PRC's count from the same report). The support score is the IDF-weighted
share of the question's words found in the cited passage (with its title and section) and in
its whole document; the threshold is chosen from the coverage-accuracy curve (README). A fact
read in a passage that does not name an acronym the question uses ("DPRK") gets none."""

from __future__ import annotations

import re

from .retrieval import LexicalIndex
from .text import ACRONYM, stem, tokens
from .types import Passage


def support(question: str, passage: Passage, index: LexicalIndex, fact: bool = False) -> float:
    """0..1: the mean of passage coverage and document coverage of the question's words.
    `fact`: the answer was read in this passage, so it is 0 when the passage does not name an
    acronym the question asks about. (A yes/no verdict is weighed over all the passages; its
    quote is the closest sentence, not where a fact was read.)"""
    terms = list(dict.fromkeys(tokens(question)))
    if not terms:
        return 1.0
    weights = [index.idf(t) for t in terms]
    total = sum(weights) or 1.0
    doc_id = passage.doc_id
    # An acronym the question uses for this document's title ('CFE') is covered by the title.
    titled = {a for a, docs in index.acronym_titles(question).items() if doc_id in docs}
    asked = set(ACRONYM.findall(question)) & index.acronyms  # words only ever written in capitals
    if fact and any(not _names(a, passage) for a in asked - titled):
        return 0.0
    named = {stem(a.lower()) for a in titled}
    local = set(tokens(f"{passage.title} {passage.section} {passage.text}")) | named
    doc = index.doc_vocab(doc_id) | local
    in_passage = sum(w for t, w in zip(terms, weights, strict=True) if t in local) / total
    in_doc = sum(w for t, w in zip(terms, weights, strict=True) if t in doc) / total
    return 0.5 * in_passage + 0.5 * in_doc


def _names(acronym: str, passage: Passage) -> bool:
    """Does the passage name what the acronym stands for: the acronym itself, or its words
    spelled out ("On-Site Inspection Agency" for OSIA)? An acronym is the most specific thing
    a question asks about: "DPRK warhead count" is not answered by a sentence on the PRC's
    warheads, however many of the question's other words it has."""
    text = f"{passage.title} {passage.section} {passage.text}"
    # Each letter starts a capitalised word, at most one lower-case word ("of") between two.
    spelled = r"[\w'’]*(?:[\s-]+[a-z][\w'’]*)?[\s-]+".join(acronym)
    return re.search(rf"\b(?:{acronym}s?|{spelled}[\w'’]*)\b", text) is not None
