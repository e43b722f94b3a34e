"""Chroma server: ingest and retrieval against `chroma run` on loopback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ingest import Ingestor
from vectorstore import ChunkStore, make_embedder

from .common import chroma_server, latency


def measure_chroma_server(settings: Any, work: Path, questions: list[str], r: dict[str, Any]) -> None:
    """The same retrieval against a Chroma server (`chroma run`) started here on loopback."""
    from qa import HybridRetriever

    proc, port = chroma_server(work / "server")
    try:
        s = settings.override(data_dir=work / "srv")
        s.store.chroma_host, s.store.chroma_port = "127.0.0.1", port
        deadline = time.monotonic() + 60
        while True:
            try:
                store = ChunkStore(s.store, make_embedder(settings.store))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        report = Ingestor(store, s.ingest, s.store.data_dir, progress=False).run([Path(r["corpus"])])
        retriever = HybridRetriever(store, s.qa)
        lat = []
        for q in questions:
            t = time.perf_counter()
            retriever.retrieve(q)
            lat.append(time.perf_counter() - t)
        r["chroma_server"] = {
            "ingest_s": round(report.seconds, 2),
            "chunks": report.chunks_added,
            "retrieval": latency(lat),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)
