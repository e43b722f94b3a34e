"""Hybrid retrieval: dense (Chroma + MiniLM) and BM25 over the same chunks, fused by
weighted reciprocal rank, boosted by the question's years, then diversified."""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vectorstore import ChunkMeta, ChunkStore, date_num

from .config import QAConfig
from .dates import YEAR
from .lexical import LexicalIndex, load_or_build
from .types import Filters, Passage

PATTERN_ROWS = 2000  # rows searched for a definition pattern: the best BM25 matches of the question


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest positive scores, best first (argpartition: a million rows in ms)."""
    if len(scores) > k:
        part = np.argpartition(-scores, k)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
    else:
        order = np.argsort(-scores, kind="stable")
    return order[scores[order] > 0]


def text_key(text: str) -> str:
    """Whitespace-blind identity of a passage's text: the same snippet stored twice is one passage."""
    return " ".join(text.split())


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
        siblings: int = 0,
    ) -> list[Passage]: ...

    def lexical_best(self, query: str, filters: Filters | None = None) -> Passage | None: ...

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
        """The question's vector as typed. The titles its acronyms stand for go to BM25 only:
        appended here, they pull the vector to every passage that repeats the title (a
        preamble) and away from the words that were asked ("signed")."""
        return self.store.embedder.embed([query])[0]

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        vector: np.ndarray | None = None,
        pattern: re.Pattern[str] | None = None,
        siblings: int = 0,
    ) -> list[Passage]:
        """Hybrid search: the k best passages, then up to `siblings` more of the top passage's
        document. `pattern` (e.g. where a term is defined) ranks matching chunks as a third list:
        a word-level search finds a one-line definition among many mentions poorly."""
        k = k or self.config.k
        filters = filters or Filters()
        cfg = self.config
        if vector is None:
            vector = self.embed_query(query)
        query = self.index.expand(query)
        dense_hits = self.store.query(vector, cfg.candidates * (3 if filters.sources else 1), _where(filters))
        dense_hits = [h for h in dense_hits if _passes(h.meta, filters)]
        fused: dict[str, float] = {}
        cosine: dict[str, float] = {}
        for rank, hit in enumerate(dense_hits):
            fused[hit.id] = cfg.dense_weight / (cfg.rrf_k + rank + 1)
            cosine[hit.id] = hit.score
        index = self.index
        bm25 = self._bm25(query, filters)
        read: dict[str, tuple[str, str, ChunkMeta]] = {}  # rows already read from disk, by chunk id
        for rank, row in enumerate(_top(bm25, cfg.candidates)):
            chunk = index.chunk(int(row))
            read[chunk[0]] = chunk
            fused[chunk[0]] = fused.get(chunk[0], 0.0) + cfg.bm25_weight / (cfg.rrf_k + rank + 1)
        if pattern is not None:
            # The defining chunk holds the term, so it scores above 0: only those rows are read.
            rows = sorted(int(r) for r in _top(bm25, PATTERN_ROWS))
            hits = [cid for cid, text, _ in map(index.chunk, rows) if pattern.search(text)]
            for rank, cid in enumerate(hits[: cfg.candidates]):
                fused[cid] = fused.get(cid, 0.0) + 1 / (cfg.rrf_k + rank + 1)
        # Questions that name a year prefer documents from then, and passages that name it.
        years = {int(y) for y in YEAR.findall(query)}
        if years and cfg.date_boost:
            for cid in fused:
                row = index.row_of(cid)
                if row is None:
                    continue
                match = int(index.years[row]) in years
                if not match and cfg.year_in_text:  # the text is read only when the date does not decide
                    if cid not in read:
                        read[cid] = index.chunk(row)
                    match = bool(years & {int(y) for y in YEAR.findall(read[cid][1])})
                if match:
                    fused[cid] *= 1 + cfg.date_boost
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        return self._diversify(ranked, fused, cosine, k, read, siblings)

    def lexical_best(self, query: str, filters: Filters | None = None) -> Passage | None:
        """BM25's best passage alone. A terse query's words can match one passage far better than
        MiniLM thinks ("notice needed to leave open skies treaty": the withdrawal article is BM25's
        first and far down the dense list), and fusion then leaves it out of the k."""
        rows = _top(self._bm25(self.index.expand(query), filters or Filters()), 1)
        if not len(rows):
            return None
        chunk = self.index.chunk(int(rows[0]))
        return _passage(chunk, score=0.0, dense=0.0)

    def _bm25(self, query: str, filters: Filters) -> np.ndarray:
        """Every row's BM25 score for the (expanded) query; 0 where the filters exclude the row."""
        bm25 = self.index.scores(query)
        if not filters.is_empty():
            bm25 = np.where(self.index.doc_mask(lambda m: _passes(m, filters)), bm25, 0.0)
        return bm25

    def _diversify(
        self,
        ranked: list[str],
        fused: dict[str, float],
        cosine: dict[str, float],
        k: int,
        read: dict[str, tuple[str, str, ChunkMeta]],
        siblings: int,
    ) -> list[Passage]:
        """Take the best passages, at most `per_source` per document at first, no duplicate texts."""
        chosen: list[str] = []
        skipped: list[str] = []
        per_doc: dict[str, int] = {}
        seen_text: set[str] = set()
        rows: dict[str, tuple[str, str, ChunkMeta]] = {}
        for cid in ranked:
            row = self.index.row_of(cid)
            if row is None:  # written after the lexical index was built
                continue
            rows[cid] = read.get(cid) or self.index.chunk(row)
            key = text_key(rows[cid][1])
            if key in seen_text:
                continue
            seen_text.add(key)
            doc = rows[cid][2].doc_id
            if per_doc.get(doc, 0) >= self.config.per_source:
                skipped.append(cid)
                continue
            per_doc[doc] = per_doc.get(doc, 0) + 1
            chosen.append(cid)
            if len(chosen) >= k:
                break
        chosen += skipped[: k - len(chosen)]
        chosen += self._siblings(ranked, chosen, rows, read, siblings)
        return [_passage(rows[cid], round(fused[cid], 5), round(cosine.get(cid, 0.0), 4)) for cid in chosen]

    def _siblings(
        self,
        ranked: list[str],
        chosen: list[str],
        rows: dict[str, tuple[str, str, ChunkMeta]],
        read: dict[str, tuple[str, str, ChunkMeta]],
        siblings: int,
    ) -> list[str]:
        """The next-best passages of the top passage's document, beyond k. A question that names a
        document ("Biden's August 2022 statement") ranks its short paragraphs first, where the
        document's title weighs most, and the long paragraph that answers it lower."""
        if not chosen or not siblings:
            return []
        doc = rows[chosen[0]][2].doc_id
        taken = {text_key(rows[cid][1]) for cid in chosen}  # per_source's skipped ones are welcome
        extra: list[str] = []
        for cid in ranked:
            if len(extra) >= siblings:
                break
            row = self.index.row_of(cid)
            if cid in chosen or row is None or self.index.docs[self.index.doc_of[row]].doc_id != doc:
                continue
            rows[cid] = rows.get(cid) or read.get(cid) or self.index.chunk(row)
            key = text_key(rows[cid][1])
            if key not in taken:
                taken.add(key)
                extra.append(cid)
        return extra


def _passage(chunk: tuple[str, str, ChunkMeta], score: float, dense: float) -> Passage:
    cid, text, m = chunk
    return Passage(
        id=cid,
        text=text,
        source=m.source,
        file_name=m.file_name,
        title=m.title,
        doc_type=m.doc_type,
        date=m.date,
        section=m.section,
        start=m.start,
        end=m.end,
        score=score,
        dense=dense,
    )
