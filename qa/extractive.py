"""The extractive reader: score the sentences of the retrieved passages against the
question and lift the answer (a date, number, name, yes/no) out of the best one.

No LLM is involved, so everything it says is a verbatim quote with its exact offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from vectorstore import Embedder

from .dates import SPELLED_NUMBER, find_dates, parse_date, resolve_relative, words_to_number
from .question import QuestionInfo
from .retrieval import LexicalIndex
from .text import sentences, tokens
from .types import Passage

NEGATION = re.compile(r"\b(not|no|never|without|neither|nor|prohibited|unarmed|unlimited|cannot|shall not|may not)\b", re.I)
NUMBER = re.compile(
    r"(?:(?:more|less|fewer|greater) than |at least |no (?:less|more|later) than |not (?:less|more) than |as many as |up to |every |within |over |some |about |nearly |approximately )?"
    r"(?:\d[\d,]*(?:\.\d+)?|" + SPELLED_NUMBER.pattern + r")"
    r"(?:\s*(?:\(\d[\d,]*\)\s*)?(?:percent|per cent|%|days?|hours?|weeks?|months?|years?|kilomet(?:er|re)s?|km|miles?|warheads|tons?|flights?|times|states|tanks|aircraft))?",
    re.I,
)
NAME = re.compile(r"(?:(?:Deputy|Foreign|Defense|Defence|Prime|Vice|National|Security|Advisor|Adviser|Secretary|Minister|President|General|Ambassador|Chancellor|Senator|Mr\.|Ms\.|Dr\.)\s+)*[A-Z][a-z]+(?:\s+(?:[A-Z]\.\s*)?[A-Z][a-z]+){1,3}")
PLACE = re.compile(r"\b(?:in|at|near|from|to)\s+((?:the\s+)?[A-Z][\w-]+(?:\s+(?:of\s+the\s+|of\s+|in\s+the\s+)?[A-Z][\w-]+){0,5})")
GENERIC_CAPS = {"The", "This", "Treaty", "Article", "Section", "States", "State", "Parties", "Party", "United", "Congress"}


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


def _coverage(terms: list[str], have: set[str], index: LexicalIndex) -> float:
    """Share of the question's IDF mass that `have` covers."""
    total = sum(index.idf(t) for t in set(terms))
    return sum(index.idf(t) for t in set(terms) if t in have) / total if total else 0.0


class ExtractiveReader:
    """Scores candidate sentences; weights were set on the dev set's answerable questions."""

    def __init__(self, embedder: Embedder, index: LexicalIndex) -> None:
        self.embedder = embedder
        self.index = index

    def candidates(self, info: QuestionInfo, passages: list[Passage], qvec: np.ndarray | None = None) -> list[Candidate]:
        cands: list[Candidate] = []
        contexts: list[str] = []
        for pi, p in enumerate(passages):
            sents = sentences(p.text, p.start)
            for si, (s, e, sent) in enumerate(sents):
                if len(sent) < 12 or not re.search(r"[a-z]", sent):
                    continue
                prev = sents[si - 1][2] if si else ""
                cands.append(Candidate(pi, s, e, sent))
                contexts.append(f"{p.title} {p.section} {prev} {sent}")
        if not cands:
            return []
        if qvec is None:
            qvec = self.embedder.embed([info.text])[0]
        svecs = self.embedder.embed([c.text for c in cands])
        dense = svecs @ qvec
        for c, ctx, d in zip(cands, contexts, dense, strict=True):
            p = passages[c.passage]
            sent_toks = set(tokens(c.text))
            ctx_toks = set(tokens(ctx))
            doc_toks = set(tokens(f"{p.title} {p.section} {p.text}"))
            c.span = extract_span(info, c.text, p.date)
            typed = info.kind in ("date", "year", "number", "person", "place")
            type_ok = 1.0 if (c.span or not typed) else 0.0
            f = {
                "dense": float(d),
                "lex": _coverage(info.terms, sent_toks, self.index),
                "ctx": _coverage(info.terms, ctx_toks, self.index),
                "ent": _coverage(info.entities, doc_toks, self.index) if info.entities else 1.0,
                "head": _coverage(info.head, ctx_toks, self.index) if info.head else 1.0,
                "type": type_ok,
                "rank": 1.0 / (1 + c.passage),
            }
            c.features = f
            c.score = 0.35 * f["dense"] + 0.3 * f["lex"] + 0.15 * f["ctx"] + 0.1 * f["ent"] + 0.1 * f["head"] + 0.25 * (f["type"] - 1) * typed + 0.05 * f["rank"]
            c.support = (0.35 * f["ctx"] + 0.3 * f["ent"] + 0.35 * max(0.0, f["dense"])) * (1.0 if type_ok else 0.3)
        return sorted(cands, key=lambda c: c.score, reverse=True)


def _not_in_question(value: str, question: str) -> bool:
    v = re.sub(r"[\s,]", "", value.lower())
    return bool(v) and v not in re.sub(r"[\s,]", "", question.lower())


def extract_span(info: QuestionInfo, sent: str, doc_date: str) -> str:
    """The answer inside a sentence for typed questions, normalised; '' if absent."""
    q = info.text
    if info.kind in ("date", "year"):
        found = [(s, e, expr) for s, e, expr in find_dates(sent) if _not_in_question(expr, q)]
        if not found:
            rel = [m.group(0) for m in re.finditer(r"\b(last|next|this)\s+(month|year|week)\b", sent, re.I)]
            return resolve_relative(rel[0], doc_date) if rel and doc_date else ""
        text, date = parse_date(found[0][2], doc_date)
        if info.kind == "year":
            year = re.search(r"(19|20)\d{2}", text)
            return year.group(0) if year else ""
        return text
    if info.kind == "number":
        for m in NUMBER.finditer(sent):
            value = m.group(0).strip()
            core = re.sub(r"^\D*?(?=\d|[a-z]+[\s-])", "", value.lower())
            if not _not_in_question(value, q) or re.fullmatch(r"(19|20)\d{2}", value):
                continue
            if re.match(r"^\(?\d+\)", sent[m.start() : m.start() + 5]) or sent[max(0, m.start() - 8) : m.start()].lower().strip().endswith(("§", "section", "article", "u.s.c.", "paragraph")):
                continue  # a label or a cross-reference, not a quantity
            spelled = SPELLED_NUMBER.fullmatch(core.split(" ")[0]) if core else None
            if spelled and words_to_number(core.split(" ")[0]) in (None, 1):
                continue
            return value
        return ""
    if info.kind == "person":
        for m in NAME.finditer(sent):
            name = m.group(0)
            words = name.split()
            if all(w in GENERIC_CAPS for w in words) or not _not_in_question(words[-1], q):
                continue
            return name
        return ""
    if info.kind == "place":
        for m in PLACE.finditer(sent):
            place = m.group(1)
            if _not_in_question(place, q) and place.split()[-1] not in GENERIC_CAPS:
                return place
        return ""
    if info.kind == "yesno":
        return yes_or_no(q, sent)
    return ""


def yes_or_no(question: str, sent: str) -> str:
    """'Yes'/'No' from the polarity of the evidence against that of the question."""
    q_neg = bool(NEGATION.search(question))
    s_neg = bool(NEGATION.search(sent))
    # "Is it limited?" vs "of unlimited duration": an un- form of a question word negates.
    for word in re.findall(r"[a-z]+", question.lower()):
        if len(word) > 3 and re.search(rf"\b(un|in|non-?){word}", sent.lower()):
            s_neg = True
    return "No" if s_neg != q_neg else "Yes"


def trim_quote(sent: str, focus: str, limit: int = 220) -> str:
    """A readable window of at most `limit` characters around `focus`."""
    sent = " ".join(sent.split())
    if len(sent) <= limit:
        return sent
    at = sent.lower().find(focus.lower()) if focus else -1
    at = max(at, 0)
    start = max(0, min(at - limit // 3, len(sent) - limit))
    start = sent.rfind(" ", 0, start) + 1 if start else 0
    window = sent[start : start + limit]
    window = window[: window.rfind(" ")] if start + limit < len(sent) else window
    return ("…" if start else "") + window.strip() + ("…" if start + limit < len(sent) else "")
