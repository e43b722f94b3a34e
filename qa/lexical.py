"""The lexical side of retrieval: a BM25 index over the store's chunks, with term weights,
document vocabularies and the corpus's acronyms, persisted next to the store.

On disk (`lexical/<collection>/` of the data dir, or RAGQA_LEXICAL_DIR): a base index (bm25s,
memory-mapped) built from every chunk, plus a small delta of the documents added, changed or
removed since; `CURRENT` names both and the store version they describe. An ingest of a few
documents writes a new delta instead of rebuilding the base."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import mmap
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ingest.lock import ingest_lock
from vectorstore import ChunkMeta, ChunkStore

from .names import Names, acronyms_of
from .text import tokens

log = logging.getLogger(__name__)
FORMAT = 6  # bump when the saved state changes shape or `tokens` splits text another way (6: acronyms)
DELTA_SHARE = 0.2  # a delta larger than this share of the base is merged by rebuilding the base
K1, B = 1.5, 0.75  # bm25s's defaults, so delta rows score like base rows

Rows = list[tuple[str, str, ChunkMeta]]


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG on import; its "building index" lines are noise here.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def load_or_build(store: ChunkStore, lock_timeout: float = 600.0) -> LexicalIndex:
    """The index of the store as it is now: loaded when the saved one matches the store's
    version, else brought up to date first (`update_saved`). Writing happens under a lock on
    the index folder, so replicas starting together update it once and the others load it."""
    folder = store.config.lexical_path
    started = time.perf_counter()
    version = store.version()
    index = LexicalIndex.load(folder, version)
    if index is None:
        try:
            with ingest_lock(folder, lock_timeout):
                index = LexicalIndex.load(folder, version)  # another process may have just updated it
                if index is None:
                    # At this version yet unloadable: damaged, so no delta onto it.
                    damaged = (_pointer(folder) or {}).get("version") == version
                    _update(store, folder, version, store.document_hashes(), rebuild=damaged)
                    index = LexicalIndex.load(folder, version)
        except OSError as exc:  # read-only or full disk: serve anyway, rebuilding at each start
            log.warning("cannot save the lexical index in %s (%s); it is rebuilt at each start", folder, exc)
        if index is None:
            return LexicalIndex.build(list(store.all_chunks()))
    log.info("BM25 over %d chunks loaded in %.2fs", len(index), time.perf_counter() - started)
    return index


def update_saved(store: ChunkStore, lock_timeout: float = 600.0) -> None:
    """Bring the saved index up to the store's version without loading it (after an ingest):
    a delta of the changed documents next to the base, or a new base if many changed."""
    folder = store.config.lexical_path
    started = time.perf_counter()
    version = store.version()
    with ingest_lock(folder, lock_timeout):
        current = _pointer(folder)
        if current is None or current.get("version") != version:
            _update(store, folder, version, store.document_hashes())
            log.info("lexical index updated in %.2fs", time.perf_counter() - started)


def _update(store: ChunkStore, folder: Path, version: str, docs: dict[str, str], rebuild: bool = False) -> None:
    """Write the delta (few documents changed since the base) or a new base. Reads only the
    base's small summary, so a one-document ingest into a large store stays short."""
    current = None if rebuild else _pointer(folder)
    summary = _base_summary(folder, current["base"]) if current else None
    if summary is not None:
        covered, rows_in_base = summary
        changed = sorted(d for d, h in docs.items() if covered.get(d) != h)
        gone = sorted(d for d, h in covered.items() if docs.get(d) != h)
        rows = store.chunks_of(changed)
        if len(rows) <= DELTA_SHARE * rows_in_base:
            LexicalIndex.save_delta(folder, version, rows, gone)
            return
    LexicalIndex.build(list(store.all_chunks()), docs).save_base(folder, version)


def _base_summary(folder: Path, base: str) -> tuple[dict[str, str], int] | None:
    try:
        summary = json.loads((folder / base / "summary.json").read_text(encoding="utf-8"))
        return dict(summary["covered"]), int(summary["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pointer(folder: Path) -> dict[str, Any] | None:
    try:
        current = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None  # never saved here
    except (OSError, ValueError):
        return None  # damaged, or written by an older release: rebuilt
    return current if isinstance(current, dict) and current.get("format") == FORMAT else None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class _MappedRows:
    """The base's chunk rows (id, text, metadata), one JSON line each, read from a memory map
    by row number: a million chunks cost their offsets in memory, not their texts."""

    def __init__(self, folder: Path) -> None:
        self._file = open(folder / "rows.jsonl", "rb")  # noqa: SIM115 - kept open for the map's lifetime
        size = os.fstat(self._file.fileno()).st_size
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self._offsets = np.load(folder / "offsets.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, row: int) -> tuple[str, str, ChunkMeta]:
        cid, text, meta = json.loads(self._map[int(self._offsets[row]) : int(self._offsets[row + 1])])
        return cid, text, ChunkMeta.model_validate(meta)


def _key(cid: str) -> int:
    """A 64-bit key of a chunk id (sorted keys find a row by binary search, no dict of a million strings)."""
    return int.from_bytes(hashlib.blake2b(cid.encode(), digest_size=8).digest(), "little")


class LexicalIndex(Names):
    """BM25 over the store's chunks (a bm25s base plus delta rows scored the same way), with
    term weights, per-document vocabularies, titles and acronyms.

    Held in memory: numpy columns (row -> document, sorted id keys) and one metadata record per
    document. Chunk texts stay on disk (`rows.jsonl`, memory-mapped) and are read for the few
    rows a question needs; a document's vocabulary is computed when it is first asked for."""

    @classmethod
    def build(cls, rows: Rows, covered: dict[str, str] | None = None) -> LexicalIndex:
        """A new base over `rows`; `covered` is the {doc_id: content_hash} it was built from."""
        bm25s = _bm25s()
        vocab: dict[str, int] = {}
        token_ids: list[list[int]] = []
        total = 0
        for _, text, meta in rows:  # token ids only: lists of a million chunks' token strings do not fit
            ids = [vocab.setdefault(t, len(vocab)) for t in tokens(f"{meta.section} {text}")]
            total += len(ids)
            token_ids.append(ids)
        bm25 = bm25s.BM25(k1=K1, b=B)
        if rows:
            bm25.index(bm25s.tokenization.Tokenized(ids=token_ids, vocab=vocab), show_progress=False)
        del token_ids
        docs: dict[str, ChunkMeta] = {}
        for _, _, meta in rows:
            docs.setdefault(meta.doc_id, meta)
        doc_index = {d: i for i, d in enumerate(docs)}
        doc_of = np.array([doc_index[m.doc_id] for _, _, m in rows], dtype=np.int32)
        keys = np.array([_key(cid) for cid, _, _ in rows], dtype=np.uint64)
        return cls(
            rows, doc_of, keys, list(docs.values()), acronyms_of(t for _, t, _ in rows),
            bm25 if rows else None, total / max(1, len(rows)), covered or {},
        )  # fmt: skip

    def __init__(
        self,
        rows: Any,
        doc_of: np.ndarray,
        keys: np.ndarray,
        docs: list[ChunkMeta],
        acronyms: set[str],
        bm25: Any,
        avgdl: float,
        covered: dict[str, str],
    ) -> None:
        self._rows = rows  # base rows: a list when just built, a memory map when loaded
        self.base_rows = len(rows)
        self.doc_of = doc_of
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]
        self.docs = docs  # one metadata record (its first chunk's) per document
        self._doc_index = {m.doc_id: i for i, m in enumerate(docs)}
        self.acronyms, self._bm25, self.avgdl, self.covered = acronyms, bm25, avgdl, covered
        self._base_df = np.diff(bm25.scores["indptr"]) if bm25 is not None else np.zeros(0, dtype=np.int64)
        self._vocab: dict[str, int] = bm25.vocab_dict if bm25 is not None else {}
        self.live = np.ones(self.base_rows, dtype=bool)
        self._delta: Rows = []
        self._delta_row: dict[str, int] = {}
        self._delta_tf: list[dict[str, int]] = []  # term counts of the delta rows, in row order
        self._delta_df: dict[str, int] = {}
        self._index_rows()

    def _index_rows(self) -> None:
        self.n = max(1, int(self.live.sum()))
        doc_years = np.array([m.date_num // 10000 for m in self.docs], dtype=np.int32)
        self.years = doc_years[self.doc_of] if len(self.docs) else np.zeros(0, dtype=np.int32)
        alive = np.zeros(len(self.docs), dtype=bool)
        alive[self.doc_of[self.live]] = True
        self.titles = {m.doc_id: m.title for m, ok in zip(self.docs, alive, strict=True) if ok}
        self._vocabs: dict[str, set[str]] = {}
        self._forget_names()

    def __len__(self) -> int:
        """Rows of live documents."""
        return int(self.live.sum())

    def chunk(self, row: int) -> tuple[str, str, ChunkMeta]:
        """(chunk id, text, metadata) of a row."""
        return self._rows[row] if row < self.base_rows else self._delta[row - self.base_rows]

    def row_of(self, cid: str) -> int | None:
        """The row of a chunk id, None if the index does not hold it (or its document was removed)."""
        row = self._delta_row.get(cid)
        if row is None:
            key = np.uint64(_key(cid))
            at = int(np.searchsorted(self._keys, key))
            if at < len(self._keys) and self._keys[at] == key:
                row = int(self._order[at])
        return row if row is not None and self.live[row] else None

    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.live)

    def doc_mask(self, keep: Any) -> np.ndarray:
        """Rows whose document's metadata passes `keep(meta)` (filters are per document)."""
        per_doc = np.array([bool(keep(m)) for m in self.docs], dtype=bool)
        return per_doc[self.doc_of] if len(self.docs) else np.zeros(0, dtype=bool)

    def doc_vocab(self, doc_id: str) -> set[str]:
        """Every word of a document: a chunk often lacks the names its document is about."""
        if doc_id not in self._vocabs:
            di = self._doc_index.get(doc_id)
            rows: Any = np.flatnonzero((self.doc_of == di) & self.live) if di is not None else []
            vocab: set[str] = set()
            for row in rows:
                _, text, meta = self.chunk(int(row))
                vocab.update(tokens(f"{meta.section} {text}"))
            if len(self._vocabs) > 512:  # a bounded cache: the documents of recent answers
                self._vocabs.clear()
            self._vocabs[doc_id] = vocab
        return self._vocabs[doc_id]

    def df(self, term: str) -> int:
        """Chunks holding the term (base and delta rows)."""
        col = self._vocab.get(term)
        base = int(self._base_df[col]) if col is not None and col < len(self._base_df) else 0
        return base + self._delta_df.get(term, 0)

    def apply_delta(self, rows: Rows, gone: list[str]) -> None:
        """Hide the rows of documents removed or changed since the base, append the chunks of
        the new and changed ones (their term frequencies join the document frequencies)."""
        gone_ids = set(gone)
        dead = np.array([m.doc_id in gone_ids for m in self.docs], dtype=bool)
        self.live = ~dead[self.doc_of] if len(self.docs) else self.live
        doc_of = list(self.doc_of)
        for cid, text, meta in rows:
            tf: dict[str, int] = {}
            for tok in tokens(f"{meta.section} {text}"):
                tf[tok] = tf.get(tok, 0) + 1
            for tok in tf:
                self._delta_df[tok] = self._delta_df.get(tok, 0) + 1
            if meta.doc_id not in self._doc_index:
                self._doc_index[meta.doc_id] = len(self.docs)
                self.docs.append(meta)
            else:  # a changed document: its new title and date
                self.docs[self._doc_index[meta.doc_id]] = meta
            doc_of.append(self._doc_index[meta.doc_id])
            self._delta_row[cid] = self.base_rows + len(self._delta)
            self._delta.append((cid, text, meta))
            self._delta_tf.append(tf)
        self.doc_of = np.array(doc_of, dtype=np.int32)
        self.live = np.concatenate([self.live, np.ones(len(rows), dtype=bool)])
        self.acronyms |= acronyms_of(r[1] for r in rows)
        self._index_rows()

    # --- persistence ------------------------------------------------------------------
    def save_base(self, folder: Path, version: str) -> None:
        """Write the base as `folder/base-<version>/` and point `CURRENT` at it (no delta).
        Each writer fills a private temporary folder first and the pointer is replaced
        atomically, so a reader (another replica on shared storage) never sees half an index."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"base-{version}"
        tmp = Path(tempfile.mkdtemp(prefix=".writing-", dir=folder))
        try:
            if self.base_rows:
                self._bm25.save(str(tmp / "bm25"), show_progress=False)
            offsets = [0]
            with open(tmp / "rows.jsonl", "wb") as out:
                for row in range(self.base_rows):
                    cid, text, meta = self.chunk(row)
                    line = json.dumps([cid, text, meta.model_dump()], ensure_ascii=False).encode() + b"\n"
                    out.write(line)
                    offsets.append(offsets[-1] + len(line))
            np.save(tmp / "offsets.npy", np.array(offsets, dtype=np.int64))
            np.save(tmp / "doc_of.npy", self.doc_of[: self.base_rows])
            np.save(tmp / "keys.npy", self._keys_by_row())
            state = {
                "format": FORMAT,
                "docs": [m.model_dump() for m in self.docs],
                "acronyms": sorted(self.acronyms),
                "avgdl": self.avgdl,
                "covered": self.covered,
            }
            (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
            summary = {"covered": self.covered, "rows": self.base_rows}
            (tmp / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
            # Writers hold the folder's lock, so one there already is damaged or of an older
            # release (a reader that still maps its files keeps them until it closes them).
            shutil.rmtree(folder / name, ignore_errors=True)
            tmp.rename(folder / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._point(folder, {"format": FORMAT, "version": version, "base": name, "delta": None})

    def _keys_by_row(self) -> np.ndarray:
        keys = np.empty(len(self._keys), dtype=np.uint64)
        keys[self._order] = self._keys
        return keys

    @classmethod
    def save_delta(cls, folder: Path, version: str, rows: Rows, gone: list[str]) -> None:
        """Write the rows added since the base (and the documents it no longer holds) beside it."""
        current = _pointer(folder)
        assert current is not None
        name = f"delta-{version}.json"
        delta = {"rows": [[cid, text, meta.model_dump()] for cid, text, meta in rows], "gone": gone}
        _write_atomic(folder / name, json.dumps(delta))
        cls._point(folder, {**current, "version": version, "delta": name})

    @staticmethod
    def _point(folder: Path, current: dict[str, Any]) -> None:
        _write_atomic(folder / "CURRENT", json.dumps(current))
        keep = {current["base"], current.get("delta")}
        for old in folder.iterdir():  # earlier versions (a replica still reading one keeps its open files)
            if old.name not in keep and old.name.startswith(("base-", "delta-")):
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, version: str) -> LexicalIndex | None:
        """The saved index (base and delta) if it describes this version of the store, else None."""
        current = _pointer(folder)
        if current is None:
            return None
        if current.get("version") != version:
            log.info("the saved lexical index in %s is of another store version; updating it", folder)
            return None
        try:
            base = folder / current["base"]
            state = json.loads((base / "state.json").read_text(encoding="utf-8"))
            rows = _MappedRows(base)
            bm25s = _bm25s()
            bm25 = bm25s.BM25.load(str(base / "bm25"), mmap=True, show_progress=False) if len(rows) else None
            index = cls(
                rows,
                np.load(base / "doc_of.npy"),
                np.load(base / "keys.npy"),
                [ChunkMeta.model_validate(m) for m in state["docs"]],
                set(state["acronyms"]),
                bm25,
                float(state["avgdl"]),
                dict(state["covered"]),
            )
            if current.get("delta"):
                delta = json.loads((folder / current["delta"]).read_text(encoding="utf-8"))
                rows_ = [(cid, text, ChunkMeta.model_validate(meta)) for cid, text, meta in delta["rows"]]
                index.apply_delta(rows_, list(delta["gone"]))
            return index
        except (OSError, ValueError, KeyError, TypeError) as exc:  # half-copied, damaged or from another release
            log.warning("the saved lexical index in %s is unusable (%s); rebuilding it", folder, type(exc).__name__)
            return None

    def expand(self, query: str) -> str:
        """The query with the titles its acronyms stand for appended."""
        extra = [self.titles[d] for docs in self.acronym_titles(query).values() for d in docs]
        return f"{query} {' '.join(extra)}" if extra else query

    def idf(self, term: str) -> float:
        df = self.df(term)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 of every row (0 for rows of removed documents)."""
        out = np.zeros(self.base_rows + len(self._delta), dtype=np.float32)
        q = [t for t in tokens(query) if self.df(t)]
        if not q:
            return out
        in_base = [t for t in q if t in self._vocab]
        if in_base:
            out[: self.base_rows] = self._bm25.get_scores(in_base)
        for i, tf in enumerate(self._delta_tf):  # a few documents: scored here, with the whole index's df
            norm = K1 * (1 - B + B * sum(tf.values()) / (self.avgdl or 1.0))
            out[self.base_rows + i] = sum(self.idf(t) * tf[t] / (tf[t] + norm) for t in q if t in tf)
        return out * self.live
