"""The only module that talks to Chroma.

Two collections per store: `<name>` holds chunks (text, vector, ChunkMeta) and
`<name>__docs` holds one record per committed document (DocRecord). A document is
visible only once its record is written, after all of its chunks: a crash in
between leaves chunks that `repair()` removes, never a half document.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .config import StoreConfig
from .embeddings import Embedder
from .errors import StoreError
from .schema import ChunkMeta, DocRecord

log = logging.getLogger(__name__)

# Chroma telemetry would try to reach the network.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

PAGE = 2000  # Chroma `get` page size; large gets are slower than a few pages
RELINK_MAX = 5000  # writes up to this many chunks are checked for unreachable ones (an ingest flush
# is about 256; a bulk load of millions would pay a query per chunk)
RELINK_HITS = 5


@dataclass
class Hit:
    id: str
    text: str
    meta: ChunkMeta
    score: float  # cosine similarity in [-1, 1]


@dataclass
class DocWrite:
    """One document ready for the store: its record, chunks and their vectors."""

    record: DocRecord
    metas: Sequence[ChunkMeta]
    texts: Sequence[str]
    vectors: np.ndarray


@lru_cache(maxsize=1)
def _ef_class() -> Any:
    """Chroma's EmbeddingFunction subclass for our embedders (defined lazily: importing
    chromadb costs a second, and `ragqa --help` must not pay it)."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    class RagqaEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self, embedder: Embedder | None = None) -> None:
            self._embedder = embedder

        def __call__(self, input: Documents) -> Embeddings:
            if self._embedder is None:
                raise StoreError("this collection is used through ragqa, which passes its own embeddings")
            return list(self._embedder.embed(list(input)))

        @staticmethod
        def name() -> str:
            return "ragqa"

        def get_config(self) -> dict[str, Any]:
            return {"model": self._embedder.name if self._embedder else ""}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> Any:
            # Chroma rebuilds the function from stored config when a collection is listed;
            # ragqa always passes vectors itself, so a detached instance is enough.
            return RagqaEmbeddingFunction(None)

        def default_space(self) -> Any:
            return "cosine"

    return RagqaEmbeddingFunction


def _ef(embedder: Embedder) -> Any:
    """Our embedder as a Chroma embedding function, so Chroma never falls back to its
    default one (which downloads a model)."""
    return _ef_class()(embedder)


class ChunkStore:
    """Chunks and document records in Chroma (embedded on disk, or a Chroma server)."""

    def __init__(self, config: StoreConfig, embedder: Embedder, *, create: bool = True) -> None:
        self.config = config
        self.embedder = embedder
        self._client = self._connect(config, create)
        self._open(create)

    # --- connection -------------------------------------------------------------------
    @staticmethod
    def _connect(config: StoreConfig, create: bool) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=True)
        if config.chroma_host:
            try:
                client = chromadb.HttpClient(host=config.chroma_host, port=config.chroma_port, settings=settings)
                client.heartbeat()
                return client
            except Exception as exc:
                raise StoreError(
                    f"Chroma server {config.chroma_host}:{config.chroma_port} is unreachable ({type(exc).__name__}); "
                    "start it (`chroma run --path DIR --port PORT`) or unset RAGQA_CHROMA_HOST"
                ) from None
        path = config.data_dir / "chroma"
        if not create and not path.exists():
            raise StoreError(f"no index at {path}; run `ragqa ingest PATH --data-dir {config.data_dir}` first")
        try:
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=settings)
        except Exception as exc:
            raise StoreError(
                f"cannot open the store at {path} ({type(exc).__name__}: {str(exc)[:120]}); "
                "move it aside and run `ragqa ingest --rebuild`"
            ) from None

    def _open(self, create: bool) -> None:
        name, docs_name = self.config.collection, f"{self.config.collection}__docs"
        wanted = {"embedding_model": self.embedder.name, "embedding_dim": self.embedder.dim}
        try:
            existing = {c.name if hasattr(c, "name") else str(c) for c in self._client.list_collections()}
            if name not in existing and not create:
                raise StoreError(f"collection '{name}' does not exist; run `ragqa ingest PATH` first")
            self.chunks = self._client.get_or_create_collection(
                name,
                metadata=wanted,
                # ef_construction 400, not Chroma's 100: with 100, a late passage unlike the rest
                # (a note added after the treaties) was left unreachable by search in 15 of 33
                # fresh stores, until a restart rebuilt the graph. Building costs 1.9x
                # per vector (30k vectors: 19.8 s against 10.6 s), a few % of an ingest that the
                # embedding model dominates; search is unchanged.
                configuration={
                    "hnsw": {"space": "cosine", "ef_construction": 400, "ef_search": self.config.hnsw_ef_search}
                },
                embedding_function=_ef(self.embedder),
            )
            # A search-time setting: a store built before it, or with another value, takes it now.
            # The search is approximate, and which near neighbours it misses changed from one
            # process to the next, so the same question got other passages in another run.
            hnsw = (self.chunks.configuration or {}).get("hnsw") or {}
            if hnsw.get("ef_search") != self.config.hnsw_ef_search:
                try:
                    self.chunks.modify(configuration={"hnsw": {"ef_search": self.config.hnsw_ef_search}})
                except Exception as exc:  # a read-only store still answers, with Chroma's search
                    log.warning("could not set the store's ef_search (%s); search stays approximate", exc)
            self.docs = self._client.get_or_create_collection(docs_name, embedding_function=_ef(self.embedder))
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open collection '{name}' ({type(exc).__name__}: {str(exc)[:160]})") from None
        meta = self.chunks.metadata or {}
        if (meta.get("embedding_model"), meta.get("embedding_dim")) != (
            wanted["embedding_model"],
            wanted["embedding_dim"],
        ):
            raise StoreError(
                f"the collection '{name}' was built with model {meta.get('embedding_model')} "
                f"({meta.get('embedding_dim')} dims) but {self.embedder.name} ({self.embedder.dim} dims) is configured; "
                "run `ragqa ingest PATH --rebuild` or configure the original model"
            )

    def rebuild(self) -> None:
        """Drop both collections and start empty."""
        for name in (self.config.collection, f"{self.config.collection}__docs"):
            try:
                self._client.delete_collection(name)
            except Exception:  # missing is fine
                pass
        self._open(create=True)

    # --- documents --------------------------------------------------------------------
    def documents(self, with_text: bool = False, sources: Sequence[str] | None = None) -> list[DocRecord]:
        """The committed documents, or only those read from these source paths (an ingest of a
        few files into a large store need not list every document)."""
        include = ["metadatas", "documents"] if with_text else ["metadatas"]
        if sources is None:
            found = self._pages(self.docs, include)
        else:
            found = (
                row
                for i in range(0, len(sources), 100)
                for row in self._rows(
                    self.docs.get(where={"source": {"$in": list(sources[i : i + 100])}}, include=include)
                )
            )
        return [DocRecord.model_validate({**meta, "text": doc or ""}) for _, doc, meta in found]

    def document(self, doc_id: str) -> DocRecord | None:
        got = self.docs.get(ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        return DocRecord.model_validate({**got["metadatas"][0], "text": got["documents"][0] or ""})

    def write_documents(self, docs: Sequence[DocWrite], *, fresh: bool = False) -> int:
        """Store the documents' chunks, then commit their records, then drop their older chunks.

        Chunk ids are deterministic (doc id, content hash, index), so repeating this after a
        crash overwrites instead of duplicating; chunks whose record is not committed are
        removed by `repair`. Writes go in batches across documents (half the time of one
        upsert per document). Returns the number of stale chunks deleted; `fresh` says the
        documents are new, so there is nothing stale to look for (bulk loads).
        """
        self._touch()  # before: a write cut short still leaves the store at a new version
        metas = [m for d in docs for m in d.metas]
        texts = [t for d in docs for t in d.texts]
        vectors = np.concatenate([d.vectors for d in docs]) if docs else np.zeros((0, self.embedder.dim))
        ids = [chunk_id(m.doc_id, m.content_hash, m.chunk_index) for m in metas]
        fields = [m.to_chroma() for m in metas]
        for i in range(0, len(ids), 1000):
            self.chunks.upsert(
                ids=ids[i : i + 1000],
                embeddings=vectors[i : i + 1000],
                documents=texts[i : i + 1000],
                metadatas=fields[i : i + 1000],
            )
        if len(ids) <= RELINK_MAX:
            self._relink(ids, vectors, texts, fields)
        records = [d.record for d in docs]
        for i in range(0, len(records), 100):  # document texts can be large: smaller batches
            batch = records[i : i + 100]
            self.docs.upsert(
                ids=[r.doc_id for r in batch],
                embeddings=[[1.0] + [0.0] * (self.embedder.dim - 1)] * len(batch),
                documents=[r.text for r in batch],
                metadatas=[r.model_dump(exclude={"text"}) for r in batch],
            )
        deleted = 0
        if not fresh:
            deleted = sum(
                self._delete_chunks({"$and": [{"doc_id": r.doc_id}, {"content_hash": {"$ne": r.content_hash}}]})
                for r in records
            )
        self._touch()
        return deleted

    def _relink(self, ids: list[str], vectors: np.ndarray, texts: list[str], metas: list[dict[str, Any]]) -> None:
        """Write again each chunk that a search with its own vector does not find. Chroma 1.5.9's
        HNSW graph sometimes leaves a new record unreachable by `query`, though `get` returns it
        (chroma-core/chroma#7758): 3 of 150 fresh stores here, with the uploaded note the lost
        chunk. Deleting and adding it again linked it in all 3. This runs before the documents'
        records are committed, so an ingest killed in between leaves chunks that `repair` removes."""
        lost = self._unreachable(ids, vectors)
        if lost:
            lost_ids = [ids[i] for i in lost]
            self.chunks.delete(ids=lost_ids)
            self.chunks.add(
                ids=lost_ids,
                embeddings=vectors[lost],
                documents=[texts[i] for i in lost],
                metadatas=[metas[i] for i in lost],
            )
            still = self._unreachable(lost_ids, vectors[lost])
            log.warning("relinked %d of %d chunks that search could not reach", len(lost) - len(still), len(lost))

    def _unreachable(self, ids: list[str], vectors: np.ndarray) -> list[int]:
        """Positions of the chunks not among the nearest hits of their own vectors (a few hits,
        not one: an identical passage elsewhere has the same vector)."""
        n = min(RELINK_HITS, self.chunks.count())
        lost: list[int] = []
        for i in range(0, len(ids), 500):
            hits = self.chunks.query(query_embeddings=vectors[i : i + 500], n_results=n, include=[])["ids"]
            lost += [i + j for j, found in enumerate(hits) if ids[i + j] not in found]
        return lost

    def delete_document(self, doc_id: str) -> int:
        self._touch()
        deleted = self._delete_chunks({"doc_id": doc_id})
        self.docs.delete(ids=[doc_id])
        self._touch()
        return deleted

    def repair(self) -> int:
        """Remove chunks no committed document record owns (left by a killed ingest)."""
        committed = {d.doc_id: d.content_hash for d in self.documents()}
        stale = [
            cid
            for cid, _, meta in self._pages(self.chunks, ["metadatas"])
            if committed.get(meta["doc_id"]) != meta["content_hash"]
        ]
        for i in range(0, len(stale), 500):
            self.chunks.delete(ids=stale[i : i + 500])
        if stale:
            self._touch()
            log.warning("removed %d chunks of an interrupted ingest", len(stale))
        return len(stale)

    def _delete_chunks(self, where: dict[str, Any]) -> int:
        ids = self.chunks.get(where=where, include=[])["ids"]
        for i in range(0, len(ids), 500):
            self.chunks.delete(ids=ids[i : i + 500])
        return len(ids)

    # --- reading ----------------------------------------------------------------------
    def document_hashes(self) -> dict[str, str]:
        """{doc_id: content_hash} of every committed document (metadata only: cheap)."""
        return {meta["doc_id"]: meta["content_hash"] for _, _, meta in self._pages(self.docs, ["metadatas"])}

    def _touch(self) -> None:
        """Give the store a new generation: every write changes its version."""
        self.docs.modify(metadata={"generation": uuid.uuid4().hex})

    def version(self) -> str:
        """A fingerprint of what the store holds: the committed documents' ids and the generation
        the last write set. Anything derived from the chunks, such as the lexical index, is stale
        when it changes. Ids and one collection record only: reading every document's metadata
        (or counting a million chunks) took seconds at each start."""
        try:
            ids = sorted(self.docs.get(include=[])["ids"])
            docs = self._client.get_collection(self.docs.name, embedding_function=_ef(self.embedder))
        except Exception as exc:
            raise _unavailable(exc) from None
        generation = (docs.metadata or {}).get("generation", "")
        return hashlib.sha256(("\n".join(ids) + f"\n{generation}").encode()).hexdigest()[:16]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these chunks."""
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(ids), PAGE):
            got = self.chunks.get(ids=list(ids[i : i + PAGE]), include=["embeddings"])
            out.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))
        return out

    def chunks_of(self, doc_ids: Sequence[str]) -> list[tuple[str, str, ChunkMeta]]:
        """The chunks of these documents (for a delta of the lexical index)."""
        out: list[tuple[str, str, ChunkMeta]] = []
        for i in range(0, len(doc_ids), 100):
            got = self.chunks.get(
                where={"doc_id": {"$in": list(doc_ids[i : i + 100])}}, include=["documents", "metadatas"]
            )
            out += [
                (cid, doc or "", ChunkMeta.from_chroma(m))
                for cid, doc, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            ]
        return sorted(out, key=lambda r: (r[2].doc_id, r[2].chunk_index))

    def count(self) -> int:
        try:
            return int(self.chunks.count())
        except Exception as exc:
            raise _unavailable(exc) from None

    def all_chunks(self) -> Iterator[tuple[str, str, ChunkMeta]]:
        """Every chunk of the committed documents, document by document: Chroma pages by
        offset, which rescans the collection for every page (quadratic at a million chunks)."""
        docs = sorted(self.document_hashes())
        for i in range(0, len(docs), 100):
            yield from self.chunks_of(docs[i : i + 100])

    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[Hit]:
        """The k nearest chunks by cosine similarity, optionally filtered on metadata."""
        try:  # k beyond the collection's size returns what there is (no count: seconds at 1M chunks)
            res = self.chunks.query(
                query_embeddings=[vector],
                n_results=k,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )
        except Exception as exc:
            raise _unavailable(exc) from None
        return [
            Hit(cid, doc or "", ChunkMeta.from_chroma(meta), 1.0 - float(dist))
            for cid, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
        ]

    def heartbeat(self) -> None:
        """Raise StoreError if the store cannot be reached now."""
        try:
            self.chunks.count()
        except Exception as exc:
            raise StoreError(
                f"the store is unavailable ({type(exc).__name__}); check the Chroma server or data dir"
            ) from None

    @staticmethod
    def _pages(collection: Any, include: list[str]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
        offset = 0
        while True:
            got = collection.get(include=include, limit=PAGE, offset=offset)
            if not got["ids"]:
                return
            yield from ChunkStore._rows(got)
            offset += len(got["ids"])

    @staticmethod
    def _rows(got: Any) -> Iterator[tuple[str, Any, dict[str, Any]]]:
        ids = got["ids"]
        docs = got.get("documents") or [None] * len(ids)
        return zip(ids, docs, got["metadatas"], strict=True)


def _unavailable(exc: Exception) -> StoreError:
    return StoreError(
        f"the store did not answer ({type(exc).__name__}); check that the Chroma server or the data dir is available, then ask again"
    )


def chunk_id(doc_id: str, content_hash: str, index: int) -> str:
    return f"{doc_id}-{content_hash[:12]}-{index:05d}"
