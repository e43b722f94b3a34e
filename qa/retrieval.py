"""Hybrid retrieval: dense (Chroma + MiniLM) and BM25 over the same chunks, fused by
weighted reciprocal rank, boosted by the question's years, then diversified."""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any, Protocol

import numpy as np

from vectorstore import ChunkMeta, ChunkStore, date_num

from .config import QAConfig
from .text import STOP, stem, tokens
from .types import Filters, Passage

log = logging.getLogger(__name__)
YEAR = re.compile(r"\b(19[4-9]\d|20[0-4]\d)\b")


class LexicalIndex:
    """BM25 (bm25s) over the store's chunks, plus document frequencies for term weights.

    Rebuilt from the store on load (about 2 s per 10k chunks here, words are normalised once
    each), so no second copy of the index has to be kept consistent on disk.
    """

    def __init__(self, ids: list[str], texts: list[str], metas: list[ChunkMeta]) -> None:
        import bm25s

        # bm25s sets its logger to DEBUG on import; its "building index" lines are noise here.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.ids, self.texts, self.metas = ids, texts, metas
        self.row = {cid: i for i, cid in enumerate(ids)}
        corpus_tokens = [tokens(f"{m.section} {t}") for m, t in zip(metas, texts, strict=True)]
        self.df: dict[str, int] = {}
        for toks in corpus_tokens:
            for tok in set(toks):
                self.df[tok] = self.df.get(tok, 0) + 1
        self.n = max(1, len(ids))
        vocab = {tok: i for i, tok in enumerate(self.df)}
        self._vocab = vocab
        self._bm25 = bm25s.BM25()
        if ids:
            self._bm25.index(
                bm25s.tokenization.Tokenized(ids=[[vocab[t] for t in toks] for toks in corpus_tokens], vocab=vocab),
                show_progress=False,
            )
        self.years = np.array([m.date_num // 10000 for m in metas], dtype=np.int32)
        # Whole-document vocabularies: a chunk often lacks the names its document is about.
        self.doc_tokens: dict[str, set[str]] = {}
        self.titles: dict[str, str] = {}
        for meta, toks in zip(metas, corpus_tokens, strict=True):
            self.doc_tokens.setdefault(meta.doc_id, set()).update(toks)
            self.titles[meta.doc_id] = meta.title
        self.acronyms = _acronyms(texts)

    def restore_case(self, question: str) -> str:
        """'npt depositary govts?' -> 'NPT depositary govts?': a word the documents only ever
        write in capitals (or that abbreviates a title, 'cfe') is a name, whatever the user typed."""

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            upper = word.upper()
            if word.islower() and word not in STOP and (upper in self.acronyms or self.acronym_titles(upper)):
                return upper
            return word

        return re.sub(r"\b[A-Za-z]{3,6}\b", fix, question)

    def acronym_titles(self, text: str) -> dict[str, list[str]]:
        """Acronyms in `text` that abbreviate a document title ('CFE' -> 'Treaty on
        Conventional Armed Forces in Europe'), when the document itself never uses them."""
        out: dict[str, list[str]] = {}
        for acro in set(re.findall(r"\b[A-Z]{3,6}\b", text)):
            hits = [
                doc
                for doc, title in self.titles.items()
                if _abbreviates(acro, title) and stem(acro.lower()) not in self.doc_tokens[doc]
            ]
            if 0 < len(hits) <= 2:
                out[acro] = hits
        return out

    def expand(self, query: str) -> str:
        """The query with the titles its acronyms stand for appended."""
        extra = [self.titles[d] for docs in self.acronym_titles(query).values() for d in docs]
        return f"{query} {' '.join(extra)}" if extra else query

    def idf(self, term: str) -> float:
        return math.log(1 + (self.n - self.df.get(term, 0) + 0.5) / (self.df.get(term, 0) + 0.5))

    def scores(self, query: str) -> np.ndarray:
        q = [t for t in tokens(query) if t in self._vocab]
        if not q or not self.ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(q), dtype=np.float32)


def _acronyms(texts: list[str]) -> set[str]:
    """Words of 3-6 capitals that the texts never also write in lower case ('NPT', not 'START'
    when 'start' occurs as a word too). One pass of two simple patterns: linear in the corpus."""
    upper: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        upper.update(re.findall(r"\b[A-Z]{3,6}\b", text))
        lower.update(re.findall(r"\b[a-z]{3,6}\b", text))
    return {w for w in upper if w.lower() not in lower}


def _abbreviates(acronym: str, title: str) -> bool:
    """Do the acronym's letters follow the initials of the title's capitalised words?
    A trailing T may stand for a leading 'Treaty' (NPT: Non-Proliferation Treaty)."""
    words = [w for w in re.split(r"[\s-]+", title) if w[:1].isupper()]
    if acronym.endswith("T") and words and words[0].lower() == "treaty":
        acronym, words = acronym[:-1], words[1:]
    elif words and words[0].lower() == "treaty" and not acronym.startswith("T"):
        words = words[1:]
    initials = "".join(w[0] for w in words)
    it = iter(initials)
    return len(acronym) >= 2 and all(ch in it for ch in acronym) and initials[:1] == acronym[:1]


def _where(filters: Filters) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if filters.doc_types:
        clauses.append({"doc_type": {"$in": list(filters.doc_types)}})
    if filters.since:
        clauses.append({"date_num": {"$gte": date_num(filters.since)}})
    if filters.until:
        clauses.append({"date_num": {"$lte": date_num(filters.until)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _passes(meta: ChunkMeta, filters: Filters) -> bool:
    if filters.doc_types and meta.doc_type not in filters.doc_types:
        return False
    if filters.sources and not any(s.lower() in meta.file_name.lower() for s in filters.sources):
        return False
    if filters.since and not (meta.date_num and meta.date_num >= date_num(filters.since)):
        return False
    if filters.until and not (meta.date_num and meta.date_num <= date_num(filters.until)):
        return False
    return True


class Retriever(Protocol):
    """What the answerer needs from retrieval: passages for a query, the query's vector
    (reused to score sentences) and the lexical index (term weights, document vocabularies)."""

    index: LexicalIndex

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        vector: np.ndarray | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> list[Passage]: ...

    def embed_query(self, query: str) -> np.ndarray: ...

    def refresh(self) -> None: ...


class HybridRetriever:
    """Retrieves diverse, fused top-k passages for a question."""

    def __init__(self, store: ChunkStore, config: QAConfig) -> None:
        self.store = store
        self.config = config
        self.index = self._load()

    def _load(self) -> LexicalIndex:
        started = time.perf_counter()
        rows = list(self.store.all_chunks())
        index = LexicalIndex([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        log.info("BM25 over %d chunks built in %.2fs", len(rows), time.perf_counter() - started)
        return index

    def refresh(self) -> None:
        """Rebuild the lexical side after an ingest."""
        self.index = self._load()

    def embed_query(self, query: str) -> np.ndarray:
        return self.store.embedder.embed([self.index.expand(query)])[0]

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        vector: np.ndarray | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> list[Passage]:
        """Hybrid search. `pattern` (e.g. where a term is defined) ranks matching chunks as a
        third list: a word-level search finds a one-line definition among many mentions poorly."""
        k = k or self.config.k
        filters = filters or Filters()
        cfg = self.config
        query = self.index.expand(query)
        if vector is None:
            vector = self.embed_query(query)
        dense_hits = self.store.query(vector, cfg.candidates * (3 if filters.sources else 1), _where(filters))
        dense_hits = [h for h in dense_hits if _passes(h.meta, filters)]
        fused: dict[str, float] = {}
        cosine: dict[str, float] = {}
        for rank, hit in enumerate(dense_hits):
            fused[hit.id] = cfg.dense_weight / (cfg.rrf_k + rank + 1)
            cosine[hit.id] = hit.score
        bm25 = self.index.scores(query)
        if not filters.is_empty():
            mask = np.array([_passes(m, filters) for m in self.index.metas], dtype=bool)
            bm25 = np.where(mask, bm25, 0.0)
        order = np.argsort(-bm25)[: cfg.candidates]
        for rank, row in enumerate(order):
            if bm25[row] <= 0:
                break
            cid = self.index.ids[row]
            fused[cid] = fused.get(cid, 0.0) + cfg.bm25_weight / (cfg.rrf_k + rank + 1)
        if pattern is not None:
            hits = [cid for cid, text in zip(self.index.ids, self.index.texts, strict=True) if pattern.search(text)]
            for rank, cid in enumerate(hits[: cfg.candidates]):
                fused[cid] = fused.get(cid, 0.0) + 1 / (cfg.rrf_k + rank + 1)
        # Questions that name a year prefer documents from then.
        years = {int(y) for y in YEAR.findall(query)}
        if years and cfg.date_boost:
            for cid in fused:
                row = self.index.row.get(cid)
                if row is not None and int(self.index.years[row]) in years:
                    fused[cid] *= 1 + cfg.date_boost
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        return self._diversify(ranked, fused, cosine, k)

    def _diversify(self, ranked: list[str], fused: dict[str, float], cosine: dict[str, float], k: int) -> list[Passage]:
        """Take the best passages, at most `per_source` per document at first, no duplicate texts."""
        chosen: list[str] = []
        skipped: list[str] = []
        per_doc: dict[str, int] = {}
        seen_text: set[str] = set()
        for cid in ranked:
            row = self.index.row.get(cid)
            if row is None:  # written after the lexical index was built
                continue
            text_key = " ".join(self.index.texts[row].split())
            if text_key in seen_text:
                continue
            seen_text.add(text_key)
            doc = self.index.metas[row].doc_id
            if per_doc.get(doc, 0) >= self.config.per_source:
                skipped.append(cid)
                continue
            per_doc[doc] = per_doc.get(doc, 0) + 1
            chosen.append(cid)
            if len(chosen) >= k:
                break
        chosen += skipped[: k - len(chosen)]
        out = []
        for cid in chosen:
            row = self.index.row[cid]
            m = self.index.metas[row]
            out.append(
                Passage(
                    id=cid,
                    text=self.index.texts[row],
                    source=m.source,
                    file_name=m.file_name,
                    title=m.title,
                    doc_type=m.doc_type,
                    date=m.date,
                    section=m.section,
                    start=m.start,
                    end=m.end,
                    score=round(fused[cid], 5),
                    dense=round(cosine.get(cid, 0.0), 4),
                )
            )
        return out
