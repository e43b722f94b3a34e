"""Scale: the corpus replicated N times straight into a store; BM25 build, load and update,
retrieval latency, a one-document ingest, and `ragqa serve` on the largest store."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ingest import Ingestor
from vectorstore import ChunkMeta, ChunkStore, DocRecord, DocWrite, make_embedder

from .common import child_env, free_port, latency, peak_rss_of, ready


def measure_scale(
    settings: Any, work: Path, questions: list[str], r: dict[str, Any], scales: list[int], out: Path
) -> None:
    """Replicate the indexed corpus N times (texts and vectors perturbed so no two chunks are
    equal) straight into a store, then time loading and retrieval. Embedding is left out
    here on purpose: its cost is linear and measured above as raw throughput."""
    import psutil

    from qa import HybridRetriever

    base = ChunkStore(settings.override(data_dir=work / "ragqa").store, make_embedder(settings.store), create=False)
    rows = list(base.all_chunks())
    vectors = base.vectors([row[0] for row in rows])
    rng = np.random.default_rng(0)
    curve = []
    for n in scales:
        s = settings.override(data_dir=work / f"scale{n}")
        store = ChunkStore(s.store, base.embedder)
        t = time.perf_counter()
        for copy in range(n):
            parts: dict[str, tuple[DocRecord, list[ChunkMeta], list[str], list[np.ndarray]]] = {}
            for cid, text, meta in rows:
                m = meta.model_copy(
                    update={
                        "doc_id": f"{meta.doc_id}c{copy}",
                        "source": f"{meta.source}#copy{copy}",
                        "title": f"{meta.title} (copy {copy})",
                    }
                )
                record = DocRecord(
                    doc_id=m.doc_id,
                    source=m.source,
                    file_name=m.file_name,
                    title=m.title,
                    doc_type=m.doc_type,
                    date=m.date,
                    content_hash=m.content_hash,
                    chunks=0,
                    chars=0,
                )
                record_, metas, texts, vecs = parts.setdefault(m.doc_id, (record, [], [], []))
                v = vectors[cid] + rng.normal(0, 0.02, vectors[cid].shape).astype(np.float32) * (copy > 0)
                metas.append(m)
                texts.append(text if copy == 0 else f"{text} [copy {copy}]")
                vecs.append(v / np.linalg.norm(v))
            docs = [DocWrite(rec, metas, texts, np.asarray(vecs)) for rec, metas, texts, vecs in parts.values()]
            store.write_documents(docs, fresh=True)  # through vectorstore, like every writer
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        HybridRetriever(store, s.qa)  # no saved index yet: built from the store and saved
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        retriever = HybridRetriever(store, s.qa)  # what `serve` and `ask` do: load the saved index
        load_s = time.perf_counter() - t
        qvecs = [retriever.embed_query(q) for q in questions]
        lat = []
        for q, v in zip(questions * 2, qvecs * 2, strict=True):
            t = time.perf_counter()
            retriever.retrieve(q, vector=v)
            lat.append(time.perf_counter() - t)
        curve.append(
            {
                "scale": n,
                "chunks": store.count(),
                "store_write_s": round(write_s, 2),
                "index_build_s": round(build_s, 2),
                "index_load_s": round(load_s, 2),
                "ingest_one_doc_s": round(_ingest_one(s, store, work), 2),
                "rss_mb": round(psutil.Process().memory_info().rss / 1e6),
                **latency(lat),
            }
        )
        del retriever, store
        if n == max(scales):  # the memory target is for `ragqa serve` itself at the largest index
            port = free_port()
            serve_s, serve_mb, _ = peak_rss_of(
                [sys.executable, "-m", "cli", "serve", "--port", str(port)],
                child_env(settings, work / f"scale{n}", llm="extractive"),
                until=lambda proc, port=port: ready(port),
                timeout=1200,
            )
            curve[-1].update(serve_to_first_answer_s=round(serve_s, 1), serve_peak_mb=round(serve_mb))
        shutil.rmtree(work / f"scale{n}", ignore_errors=True)
    r["scale"] = curve
    _plot(curve, out)


def _ingest_one(settings: Any, store: ChunkStore, work: Path) -> float:
    """Seconds of `ragqa ingest NEW_FILE` into the big store: embed and write one document,
    then bring the saved lexical index up to date (a delta, as the CLI does)."""
    from qa.lexical import update_saved

    doc = work / "one-more" / "2024-01-01-one-more.txt"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(" date 2024-01-01 One more report\n\nDelegates met in Vienna on Monday to discuss verification.\n")
    t = time.perf_counter()
    Ingestor(store, settings.ingest, settings.store.data_dir, progress=False).run([doc.parent])
    update_saved(store)
    return time.perf_counter() - t


def _plot(curve: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = [c["chunks"] for c in curve]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(chunks, [c["p50_ms"] for c in curve], "o-", label="p50")
    ax[0].plot(chunks, [c["p95_ms"] for c in curve], "o-", label="p95")
    ax[0].axhline(100, color="grey", ls="--", lw=0.8, label="100 ms target")
    ax[0].set_xlabel("chunks")
    ax[0].set_ylabel("retrieval latency (ms)")
    ax[0].legend()
    ax[1].plot(chunks, [c["store_write_s"] for c in curve], "o-", label="store writes (s)")
    ax[1].plot(chunks, [c["index_build_s"] for c in curve], "o-", label="BM25 build + save (s)")
    ax[1].plot(chunks, [c["index_load_s"] for c in curve], "o-", label="BM25 load (s)")
    ax[1].plot(chunks, [c["ingest_one_doc_s"] for c in curve], "o-", label="ingest 1 doc (s)")
    ax[1].set_xlabel("chunks")
    ax[1].legend()
    fig.suptitle("ragqa at scale (corpus replicated)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "scale.png", dpi=110)
    plt.close(fig)
