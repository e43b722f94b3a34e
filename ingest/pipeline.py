"""Files -> documents -> chunks -> vectors -> store, incrementally and crash-safely."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from vectorstore import ChunkMeta, ChunkStore, DocRecord, DocWrite, date_num

from .chunking import chunk_document, embed_text, infer_doc_type
from .config import IngestConfig
from .errors import IngestError
from .loaders import SUPPORTED, LoadedDoc, load_file
from .lock import ingest_lock

log = logging.getLogger(__name__)

CHUNKER_VERSION = "1"  # bump when chunking changes, so documents are re-chunked
EMBED_BATCH_CHUNKS = 256  # documents are buffered until this many chunks, then embedded together


class FileError(BaseModel):
    path: str
    error: str


class IngestReport(BaseModel):
    """The summary of one ingest run (printed by `ragqa ingest --json`)."""

    files_seen: int = 0
    files_ingested: int = 0
    files_unchanged: int = 0
    files_skipped: list[FileError] = Field(default_factory=list, description="Unsupported types, noted not failed.")
    files_failed: list[FileError] = Field(default_factory=list)
    warnings: list[FileError] = Field(default_factory=list)
    documents_removed: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
    chunks_repaired: int = 0
    seconds: float = 0.0
    chars_embedded: int = 0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_added / self.seconds if self.seconds else 0.0


@dataclass
class _Pending:
    record: DocRecord
    metas: list[ChunkMeta]
    texts: list[str]
    embed_texts: list[str]


def _resolved(path: Path) -> str | None:
    """The path as documents record it; None for a symlink loop (reported when the file is read)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):
        return None


def discover(paths: Iterable[Path], report: IngestReport) -> Iterator[Path]:
    """Files under the given paths, recursively, sorted; hidden files and symlink loops skipped."""
    for root in paths:
        if not root.exists():
            report.files_failed.append(FileError(path=str(root), error="no such file or directory"))
            continue
        if root.is_file():
            yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name == "SOURCES.md":
                    continue
                yield Path(dirpath) / name


def doc_id_for(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


PENDING = "ingest.pending"


class Ingestor:
    """Ingests paths into a ChunkStore. One instance per run; `run()` holds the data-dir lock."""

    def __init__(self, store: ChunkStore, config: IngestConfig, data_dir: Path, progress: bool = True) -> None:
        self.store = store
        self.config = config
        self.data_dir = data_dir
        self.progress = progress

    def run(self, paths: list[Path], *, prune: bool = False, rebuild: bool = False) -> IngestReport:
        report = IngestReport()
        started = time.perf_counter()
        # Present from the first write to the end of a run: if it is found at the start, the
        # last run here did not finish, so its chunks without a committed record are removed.
        # (Scanning every chunk's metadata at each ingest was most of a one-file ingest into a
        # large store.)
        pending = self.data_dir / PENDING
        with ingest_lock(self.data_dir, self.config.lock_timeout):
            if rebuild:
                self.store.rebuild()
            elif pending.exists():
                report.chunks_repaired = self.store.repair()
            pending.touch()
            files = list(discover(paths, report))
            sources = None if prune else [r for r in map(_resolved, files) if r]  # pruning looks at every document
            committed = {d.doc_id: d for d in self.store.documents(sources=sources)}
            self._ingest_files(files, committed, report)
            if prune:
                for doc in committed.values():
                    if not Path(doc.source).exists():
                        report.chunks_deleted += self.store.delete_document(doc.doc_id)
                        report.documents_removed += 1
            pending.unlink()
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_files(self, files: list[Path], committed: dict[str, DocRecord], report: IngestReport) -> None:
        from tqdm import tqdm

        pending: list[_Pending] = []
        bar = tqdm(files, desc="ingest", unit="file", disable=not self.progress, leave=False, dynamic_ncols=True)
        for path in bar:
            report.files_seen += 1
            if path.suffix.lower() not in SUPPORTED:
                report.files_skipped.append(
                    FileError(path=str(path), error=f"unsupported type '{path.suffix or path.name}', skipped")
                )
                continue
            try:
                size_mb = path.stat().st_size / 1e6
                if size_mb > self.config.max_file_mb:
                    raise IngestError(
                        f"file is {size_mb:.0f} MB, over the {self.config.max_file_mb:.0f} MB limit (RAGQA_MAX_FILE_MB)"
                    )
                docs = load_file(path)
            except IngestError as exc:
                report.files_failed.append(FileError(path=str(path), error=str(exc)))
                continue
            except (OSError, RecursionError, MemoryError) as exc:
                report.files_failed.append(FileError(path=str(path), error=f"cannot read ({type(exc).__name__})"))
                continue
            try:
                items = [self._prepare(doc, committed) for doc in docs]
            except IngestError as exc:
                report.files_failed.append(FileError(path=str(path), error=str(exc)))
                continue
            for doc in docs:
                report.warnings.extend(FileError(path=str(path), error=w) for w in doc.warnings)
            keys = {item_id for item_id in (doc_id_for(self._key(doc)) for doc in docs)}
            fresh = [item for item in items if item is not None]
            pending.extend(fresh)
            changed = bool(fresh)
            # Records that vanished from a changed feed file go with it.
            for gone in [d for d in committed.values() if d.source == str(path.resolve()) and d.doc_id not in keys]:
                report.chunks_deleted += self.store.delete_document(gone.doc_id)
                report.documents_removed += 1
            if changed:
                report.files_ingested += 1
            else:
                report.files_unchanged += 1
            if sum(len(p.metas) for p in pending) >= EMBED_BATCH_CHUNKS:
                self._flush(pending, report)
                pending = []
            bar.set_postfix(chunks=report.chunks_added)
        self._flush(pending, report)
        bar.close()

    @staticmethod
    def _key(doc: LoadedDoc) -> str:
        """The document's identity: its resolved path (plus the record id for feed records)."""
        return doc.key.replace(doc.source, str(Path(doc.source).resolve()), 1)

    def _prepare(self, doc: LoadedDoc, committed: dict[str, DocRecord]) -> _Pending | None:
        """Chunk a document unless its committed version has the same content hash."""
        source = str(Path(doc.source).resolve())
        doc_id = doc_id_for(self._key(doc))
        fingerprint = f"{CHUNKER_VERSION}|{self.config.chunk_size}|{self.store.embedder.name}|{doc.title}|{doc.date}|"
        content_hash = hashlib.sha256((fingerprint + doc.text).encode("utf-8", "surrogatepass")).hexdigest()
        old = committed.get(doc_id)
        if old is not None and old.content_hash == content_hash:
            return None
        doc_type = infer_doc_type(doc.doc_type_hint, source, doc.text)
        chunks = chunk_document(doc.text, doc.title, doc_type, self.config.chunk_size, doc.body_start)
        if not chunks:
            raise IngestError("no text left after reading the structure (only headings?)")
        # Fields every chunk shares with its document record.
        common = {
            "doc_id": doc_id,
            "source": source,
            "file_name": Path(source).name,
            "title": doc.title,
            "doc_type": doc_type,
            "date": doc.date,
            "content_hash": content_hash,
        }
        metas = [
            ChunkMeta(**common, date_num=date_num(doc.date), section=c.section, start=c.start, end=c.end, chunk_index=i)
            for i, c in enumerate(chunks)
        ]
        record = DocRecord(**common, chunks=len(chunks), chars=len(doc.text), text=doc.text)
        return _Pending(record, metas, [c.text for c in chunks], [embed_text(c, doc.date) for c in chunks])

    def _flush(self, pending: list[_Pending], report: IngestReport) -> None:
        if not pending:
            return
        texts = [t for p in pending for t in p.embed_texts]
        vectors = self.store.embedder.embed(texts)
        report.chars_embedded += sum(len(t) for t in texts)
        per_doc = np.split(vectors, np.cumsum([len(item.metas) for item in pending])[:-1])
        writes = [
            DocWrite(item.record, item.metas, item.texts, vecs) for item, vecs in zip(pending, per_doc, strict=True)
        ]
        report.chunks_deleted += self.store.write_documents(writes)
        report.chunks_added += len(texts)
