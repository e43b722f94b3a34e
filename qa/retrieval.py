"""Hybrid retrieval: dense (Chroma + MiniLM) and BM25 over the same chunks, fused by
weighted reciprocal rank, boosted by the question's years, then diversified."""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vectorstore import ChunkMeta, ChunkStore, date_num

from .config import QAConfig
from .lexical import LexicalIndex, load_or_build
from .types import Filters, Passage

YEAR = re.compile(r"\b(19[4-9]\d|20[0-4]\d)\b")


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


@runtime_checkable
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
        return load_or_build(self.store)

    def refresh(self) -> None:
        """Pick up an ingest: load (or build) the lexical index of the store's new version."""
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
            index = self.index  # rows of removed documents are not in `row`
            hits = [
                cid
                for cid, text in zip(index.ids, index.texts, strict=True)
                if cid in index.row and pattern.search(text)
            ]
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
