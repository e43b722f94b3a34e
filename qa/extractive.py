"""The extractive reader: score the sentences of the retrieved passages against the
question and lift the answer (a date, number, name, yes/no) out of the best one.

No LLM is involved, so everything it says is a verbatim quote with its exact offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .grounding import STATE_NAMES
from .question import QuestionInfo
from .retrieval import LexicalIndex
from .spans import best_span, spans
from .text import ACRONYM, related, sentences, stem, tokens
from .types import Passage
from .vectors import SentenceVectors

INJECTION = re.compile(
    r"\b(ignore (all |any )?(previous|prior|above) instructions|disregard .{0,20}instructions|you are now)\b", re.I
)
LIST_ITEM = re.compile(r"^\s*\((?:[A-Za-z]{1,4}|\d{1,3})\)")


@dataclass
class Candidate:
    """A sentence of a retrieved passage, scored as the answer's evidence."""

    passage: int  # index into the passages list
    start: int  # offsets in the document text
    end: int
    text: str
    score: float = 0.0
    support: float = 0.0
    span: str = ""  # the answer lifted out of the sentence ('' for 'other' questions)
    features: dict[str, float] = field(default_factory=dict)


def _coverage(terms: list[str], have: set[str], index: LexicalIndex, fuzzy: bool = False) -> float:
    """Share of the question's IDF mass that `have` covers. `fuzzy` also accepts a longer
    word containing the term ('affirm' in 'reaffirm')."""
    total = sum(index.idf(t) for t in set(terms))

    def covered(t: str) -> bool:
        if fuzzy and not related(t).isdisjoint(have):
            return True
        return t in have or (fuzzy and len(t) >= 5 and any(t in h for h in have))

    return sum(index.idf(t) for t in set(terms) if covered(t)) / total if total else 0.0


def _entity_coverage(entities: list[str], vocab: set[str], index: LexicalIndex) -> float:
    """Share of the question's names (IDF-weighted) in a document. A demonym counts for its
    country ('korean' for 'Korea', 'russian' for 'Russia')."""
    if not entities:
        return 1.0
    missing = [e for e in set(entities) if e not in vocab]
    have = vocab | {e for e in missing if any(len(v) >= 4 and e.startswith(v) for v in vocab)}
    return _coverage(entities, have, index)


PRED_WEIGHT = 0.3  # measured on the dev set and our own question batches (see README)


class ExtractiveReader:
    """Scores candidate sentences. The weights were set on the dev set's answerable
    questions (see README) and are deliberately few."""

    def __init__(self, vectors: SentenceVectors, index: LexicalIndex, max_sentences: int = 12) -> None:
        self.vectors = vectors
        self.embedder = vectors.embedder
        self.index = index
        self.max_sentences = max_sentences

    def _acronym_tokens(self, p: Passage, doc_id: str) -> set[str]:
        """Stemmed acronyms of the question that abbreviate this document's title ('cfe')."""
        found = self.index.acronym_titles(p.title + " " + " ".join(self._acronyms))
        return {stem(acro.lower()) for acro, docs in found.items() if doc_id in docs}

    def _doc_vocab(self, p: Passage, doc_id: str, acronyms: set[str]) -> set[str]:
        vocab = self.index.doc_vocab(doc_id) | set(tokens(f"{p.title} {p.section} {p.text}"))
        return vocab | acronyms

    def candidates(
        self, info: QuestionInfo, passages: list[Passage], qvec: np.ndarray | None = None
    ) -> list[Candidate]:
        self._acronyms = ACRONYM.findall(info.text)
        cands: list[Candidate] = []
        contexts: list[tuple[str, str, Passage]] = []
        follow: list[tuple[int, int, str] | None] = []  # the sentence after each candidate
        for pi, p in enumerate(passages):
            sents = sentences(p.text, p.start)
            lead = ""
            for si, (s, e, sent) in enumerate(sents):
                prev = sents[si - 1][2] if si else ""
                # A list item ("(D) 5,150 combat aircraft") means nothing without its lead-in.
                if prev.rstrip().endswith(":"):
                    lead = prev
                elif not LIST_ITEM.match(sent):
                    lead = ""
                if len(sent) < 12 or not re.search(r"[a-z]", sent) or INJECTION.search(sent):
                    continue  # fragments, and text that tries to instruct the reader, are never evidence
                cands.append(Candidate(pi, s, e, sent))
                contexts.append((f"{lead} {sent}", f"{p.title} {p.section} {lead} {prev} {sent}", p))
                follow.append(sents[si + 1] if si + 1 < len(sents) else None)
        if not cands:
            return []
        if qvec is None:
            qvec = self.embedder.embed([info.text])[0]
        # Embedding every sentence dominates latency; only the lexically plausible ones
        # (plus each passage's best) go to the dense model.
        pre = [
            _coverage(info.terms, set(tokens(ctx)), self.index)
            + 0.5 * bool(spans(info, c.text, p.date))
            + 0.3 / (1 + c.passage)
            for c, (_, ctx, p) in zip(cands, contexts, strict=True)
        ]
        keep = sorted(range(len(cands)), key=lambda i: pre[i], reverse=True)[: self.max_sentences]
        cands = [cands[i] for i in sorted(keep)]
        contexts = [contexts[i] for i in sorted(keep)]
        follow = [follow[i] for i in sorted(keep)]
        svecs = self.vectors([own for own, _, _ in contexts])
        dense = svecs @ qvec
        doc_ids = {p.id: p.doc_id for p in passages}
        vocab_cache: dict[str, set[str]] = {}
        ent_cache: dict[str, float] = {}
        acro_cache: dict[str, set[str]] = {}
        named: dict[str, bool] = {}
        q_toks = set(info.terms)
        typed = info.kind in ("date", "year", "number", "person", "place", "treaty")
        for c, (own, ctx, p), d, nxt in zip(cands, contexts, dense, follow, strict=True):
            doc_id = doc_ids[p.id]
            if doc_id not in acro_cache:
                acro_cache[doc_id] = self._acronym_tokens(p, doc_id)
                vocab_cache[doc_id] = self._doc_vocab(p, doc_id, acro_cache[doc_id])
                ent_cache[doc_id] = _entity_coverage(info.entities, vocab_cache[doc_id], self.index)
                title_toks = set(tokens(p.title))
                # The question names this document ("the Treaty on Open Skies", or its acronym "CFE").
                named[doc_id] = bool(acro_cache[doc_id]) or (len(title_toks) >= 2 and title_toks <= q_toks)
            own_toks, ctx_toks = set(tokens(own)), set(tokens(ctx)) | acro_cache[doc_id]
            c.span, span_quality = best_span(info, c.text, p.date)
            if typed and not c.span and nxt is not None:
                # "...have signed this Treaty. DONE at London, Moscow and Washington": the answer
                # may open the next sentence; the quote then covers both.
                span, quality = best_span(info, nxt[2], p.date)
                if span:
                    c.span, span_quality, c.end, c.text = span, 0.8 * quality, nxt[1], f"{c.text} {nxt[2]}"
            f = {
                "dense": float(d),
                "lex": _coverage(info.terms, own_toks, self.index),
                "ctx": _coverage(info.terms, ctx_toks, self.index),
                "ent": ent_cache[doc_id],
                "head": _coverage(info.head, ctx_toks, self.index) if info.head else 1.0,
                "pred": _coverage(info.relation, ctx_toks, self.index, fuzzy=True) if info.relation else 1.0,
                "type": span_quality if typed else 1.0,
                "named": 1.0 if named[doc_id] else 0.0,
                "year": 1.0 if info.years and p.date[:4] and int(p.date[:4]) in info.years else 0.0,
                "rank": 1.0 / (1 + c.passage),
            }
            c.features = f
            c.score = (
                0.3 * f["dense"]
                + 0.25 * f["lex"]
                + 0.1 * f["ctx"]
                + 0.25 * f["ent"]
                + 0.1 * f["head"]
                + 0.1 * f["pred"]
                + 0.3 * (f["type"] - 1)
                + 0.1 * f["year"]
                + 0.1 * f["named"]
                + 0.05 * f["rank"]
                + 0.3 * (info.kind == "define" and bool(c.span))  # the sentence that defines the term
            )
            # A question's names missing from the document weigh twice: once in the sum, and
            # as a factor ("Which US president signed the INF Treaty?" answered from a text without INF).
            c.support = (
                (0.25 * f["ctx"] + 0.25 * f["ent"] + 0.25 * f["pred"] + 0.25 * max(0.0, f["dense"]))
                * (0.3 + 0.7 * f["type"])
                * f["ent"] ** 0.5
            )
            if info.kind in ("date", "year"):
                # A date answers "when did X <verb>" only if the verb (or its family) is there:
                # "When was it ratified?" is not answered by the date it was signed.
                c.support *= 1 - PRED_WEIGHT + PRED_WEIGHT * f["pred"]
        return sorted(cands, key=lambda c: c.score, reverse=True)


def common_names(text: str) -> list[str]:
    """Official state names in a text, as people say them (in order of appearance)."""
    found = sorted((text.find(official), short) for official, short in STATE_NAMES.items() if official in text)
    names: list[str] = []
    for _, short in found:
        if short not in names:
            names.append(short)
    return names


def trim_quote(sent: str, focus: str, limit: int = 220) -> str:
    """A readable window of at most `limit` characters around `focus`."""
    sent = " ".join(sent.split())
    if len(sent) <= limit:
        return sent
    at = max(sent.lower().find(focus.lower()) if focus else -1, 0)
    start = max(0, min(at - limit // 3, len(sent) - limit))
    start = sent.rfind(" ", 0, start) + 1 if start else 0
    window = sent[start : start + limit]
    window = window[: window.rfind(" ")] if start + limit < len(sent) else window
    return ("…" if start else "") + window.strip() + ("…" if start + limit < len(sent) else "")
