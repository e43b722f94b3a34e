"""Scale: the corpus replicated into one growing store (up to a million chunks); per scale the
BM25 build and load, dense / BM25 / fused retrieval latency, a one-document ingest, disk size and
`ragqa serve` (time to first answer, peak RSS); at the largest, `serve` against a Chroma server."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ingest import Ingestor
from vectorstore import ChunkMeta, ChunkStore, DocRecord, DocWrite, make_embedder

from .common import child_env, chroma_server, free_port, latency, peak_rss_of, ready

Rows = list[tuple[str, str, ChunkMeta]]


def measure_scale(
    settings: Any, work: Path, questions: list[str], r: dict[str, Any], scales: list[int], out: Path
) -> None:
    """Grow one store copy by copy (texts and vectors perturbed so no two chunks are equal;
    embedding is left out on purpose, its cost is linear and measured above as raw throughput)
    and measure at each scale on the way."""
    import psutil

    from qa import HybridRetriever

    base = ChunkStore(settings.override(data_dir=work / "ragqa").store, make_embedder(settings.store), create=False)
    rows = list(base.all_chunks())
    vectors = base.vectors([row[0] for row in rows])
    rng = np.random.default_rng(0)
    folder = work / "scale"
    s = settings.override(data_dir=folder)
    store = ChunkStore(s.store, base.embedder)
    written, curve = 0, []
    for n in sorted(scales):
        t = time.perf_counter()
        for copy in range(written, n):
            store.write_documents(_copy(rows, vectors, copy, rng), fresh=True)  # through vectorstore, like every writer
        write_s, written = time.perf_counter() - t, n
        shutil.rmtree(s.store.lexical_path, ignore_errors=True)
        t = time.perf_counter()
        HybridRetriever(store, s.qa)  # no saved index: built from the store and saved
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        retriever = HybridRetriever(store, s.qa)  # what `serve` and `ask` do: load the saved index
        load_s = time.perf_counter() - t
        point: dict[str, Any] = {
            "scale": n,
            "chunks": store.count(),
            "store_write_s": round(write_s, 2),
            "index_build_s": round(build_s, 2),
            "index_load_s": round(load_s, 2),
            **_latencies(retriever, store, questions),
            "ingest_one_doc_s": round(_ingest_one(s, store, work, n), 2),
            "disk_mb": round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1),
            "bench_rss_mb": round(psutil.Process().memory_info().rss / 1e6),
        }
        del retriever
        port = free_port()
        serve_s, serve_mb, _ = peak_rss_of(
            [sys.executable, "-m", "cli", "serve", "--port", str(port)],
            child_env(settings, folder, llm="extractive"),  # the store and the index, not the model
            until=lambda proc, port=port: ready(port),
            timeout=1200,
        )
        point.update(serve_to_first_answer_s=round(serve_s, 1), serve_peak_mb=round(serve_mb))
        curve.append(point)
    del store
    r["scale"] = curve
    r["scale_server"] = _serve_with_chroma_server(settings, folder, curve[-1]["chunks"], questions)
    shutil.rmtree(folder, ignore_errors=True)
    _plot(curve, out)


def _copy(rows: Rows, vectors: dict[str, np.ndarray], copy: int, rng: np.random.Generator) -> list[DocWrite]:
    """Copy `copy` of the corpus as documents of their own (copy 0 is the corpus itself)."""
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
        _, metas, texts, vecs = parts.setdefault(m.doc_id, (record, [], [], []))
        v = vectors[cid] + rng.normal(0, 0.02, vectors[cid].shape).astype(np.float32) * (copy > 0)
        metas.append(m)
        texts.append(text if copy == 0 else f"{text} [copy {copy}]")
        vecs.append(v / np.linalg.norm(v))
    return [DocWrite(rec, metas, texts, np.asarray(vecs)) for rec, metas, texts, vecs in parts.values()]


def _latencies(retriever: Any, store: ChunkStore, questions: list[str]) -> dict[str, float]:
    """p50/p95 of the dense search alone, of BM25 alone (scores and top rows) and of the fused retrieval."""
    from qa.retrieval import _top

    qvecs = [retriever.embed_query(q) for q in questions]
    dense, bm25, fused = [], [], []
    for q, v in zip(questions * 2, qvecs * 2, strict=True):
        t = time.perf_counter()
        store.query(v, retriever.config.candidates)
        dense.append(time.perf_counter() - t)
        t = time.perf_counter()
        _top(retriever.index.scores(q), retriever.config.candidates)
        bm25.append(time.perf_counter() - t)
        t = time.perf_counter()
        retriever.retrieve(q, vector=v)
        fused.append(time.perf_counter() - t)
    out: dict[str, float] = {}
    for name, values in (("dense", dense), ("bm25", bm25), ("fused", fused)):
        out |= {f"{name}_{k}": v for k, v in latency(values).items()}
    return out


def _ingest_one(settings: Any, store: ChunkStore, work: Path, n: int) -> float:
    """Seconds of `ragqa ingest NEW_FILE` into the big store: embed and write one document,
    then bring the saved lexical index up to date (a delta, as the CLI does)."""
    from qa.lexical import update_saved

    doc = work / f"one-more-{n}" / f"2024-01-01-one-more-{n}.txt"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(
        f" date 2024-01-01 One more report ({n})\n\nDelegates met in Vienna on Monday to discuss verification.\n"
    )
    t = time.perf_counter()
    Ingestor(store, settings.ingest, settings.store.data_dir, progress=False).run([doc.parent])
    update_saved(store)
    return time.perf_counter() - t


def _serve_with_chroma_server(settings: Any, folder: Path, chunks: int, questions: list[str]) -> dict[str, Any]:
    """The largest store served by `chroma run` (on the same files): the vectors' memory moves
    to the server, `ragqa serve` keeps the lexical index (RAGQA_LEXICAL_DIR, as replicas share it)."""
    import psutil
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # this process lets go of the files
    server, port = chroma_server(folder / "chroma")
    try:
        s = settings.override(data_dir=folder)
        s.store.chroma_host, s.store.chroma_port = "127.0.0.1", port
        t = time.perf_counter()
        deadline = time.monotonic() + 300
        while True:
            try:  # the server's first query loads the collection's HNSW index into its memory
                store = ChunkStore(s.store, make_embedder(settings.store), create=False)
                store.query(store.embedder.embed(["verification talks in Vienna"])[0], 5)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        warm_s = time.perf_counter() - t
        from qa import HybridRetriever

        lat = _latencies(HybridRetriever(store, s.qa), store, questions)  # over HTTP, the saved index loaded
        env = child_env(settings, folder / "replica", llm="extractive") | {
            "RAGQA_CHROMA_HOST": "127.0.0.1",
            "RAGQA_CHROMA_PORT": str(port),
            "RAGQA_LEXICAL_DIR": str(folder / "lexical"),
        }
        web = free_port()
        serve_s, serve_mb, _ = peak_rss_of(
            [sys.executable, "-m", "cli", "serve", "--port", str(web)],
            env,
            until=lambda proc: ready(web),
            timeout=1200,
        )
        return {
            "chunks": chunks,
            "server_first_query_s": round(warm_s, 1),
            "server_rss_mb": round(psutil.Process(server.pid).memory_info().rss / 1e6),
            **lat,
            "serve_to_first_answer_s": round(serve_s, 1),
            "serve_peak_mb": round(serve_mb),
        }
    finally:
        server.terminate()
        server.wait(timeout=60)


def _plot(curve: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = [c["chunks"] for c in curve]
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    for name in ("dense", "bm25", "fused"):
        ax[0].plot(chunks, [c[f"{name}_p95_ms"] for c in curve], "o-", label=f"{name} p95")
    ax[0].axhline(150, color="grey", ls="--", lw=0.8, label="150 ms target")
    ax[0].set_ylabel("retrieval latency (ms)")
    ax[1].plot(chunks, [c["serve_to_first_answer_s"] for c in curve], "o-", label="serve: first answer (s)")
    ax[1].plot(chunks, [c["ingest_one_doc_s"] for c in curve], "o-", label="ingest 1 doc (s)")
    ax[1].plot(chunks, [c["index_load_s"] for c in curve], "o-", label="BM25 load (s)")
    ax[1].axhline(5, color="grey", ls="--", lw=0.8, label="5 s target")
    ax[2].plot(chunks, [c["serve_peak_mb"] for c in curve], "o-", label="serve peak RSS (MB)")
    ax[2].plot(chunks, [c["disk_mb"] for c in curve], "o-", label="disk (MB)")
    ax[2].axhline(2000, color="grey", ls="--", lw=0.8, label="2 GB target")
    for a in ax:
        a.set_xscale("log")
        a.set_xlabel("chunks")
        a.legend(fontsize=8)
    fig.suptitle("ragqa at scale (corpus replicated into one store)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "scale.png", dpi=110)
    plt.close(fig)
