"""Answers: latency of retrieval, of each answer backend, and of the textbook pipeline with the same model."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from vectorstore import ChunkStore

from .common import latency


def measure_answers(
    settings: Any, work: Path, store: ChunkStore, naive: Any, questions: list[str], r: dict[str, Any]
) -> None:
    """Retrieval latency, then answer latency per backend and of the textbook pipeline on the same model."""
    from qa import Answerer, HybridRetriever

    s = settings.override(data_dir=work / "ragqa")
    retriever = HybridRetriever(store, s.qa)
    lat = []
    for q in questions * 3:
        t = time.perf_counter()
        retriever.retrieve(q)
        lat.append(time.perf_counter() - t)
    r["retrieval"] = latency(lat)
    answerer = Answerer(store, s.qa)
    r["answers"] = {}
    for backend in ("extractive", "local"):
        try:
            answerer.warm_up(questions[0], backend=backend)
        except Exception as exc:  # the local model may not be installed
            r["answers"][backend] = {"error": str(exc)}
            continue
        lat = []
        for q in questions:
            t = time.perf_counter()
            answerer.ask(q, backend=backend)
            lat.append(time.perf_counter() - t)
        r["answers"][backend] = latency(lat)
    r["default_backend"] = s.qa.llm
    try:
        from eval.naive import baseline_llm

        naive.llm = baseline_llm(s, store)
        naive.ask(questions[0])
        lat = []
        for q in questions:
            t = time.perf_counter()
            naive.ask(q)
            lat.append(time.perf_counter() - t)
        r["answers"]["textbook"] = latency(lat)
    except Exception as exc:
        r["answers"]["textbook"] = {"error": str(exc)}
    shutil.copytree(work / "ragqa", work / "cold")  # a ready index for the cold-start runs
