"""Ingest: ragqa against the raw embedding throughput (the limit) and the textbook pipeline,
plus the other precision of the bundled model and the retrieval quality of each."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from eval import evidence_found, load_questions
from ingest import Ingestor
from vectorstore import ChunkStore, make_embedder


def measure_ingest(args: argparse.Namespace, settings: Any, work: Path, r: dict[str, Any]) -> tuple[ChunkStore, Any]:
    """ragqa's first ingest and re-ingest against the raw embedding throughput and the textbook
    pipeline's ingest; returns the store and the textbook pipeline for the answer measurement."""
    from eval.naive import NaivePipeline

    t = time.perf_counter()
    embedder = make_embedder(settings.store)
    embedder.embed(["warm up"])
    r["model_load_s"] = round(time.perf_counter() - t, 2)
    r["embedding"] = embedder.name
    s = settings.override(data_dir=work / "ragqa")
    store = ChunkStore(s.store, embedder)
    first = Ingestor(store, s.ingest, s.store.data_dir, progress=False).run([args.corpus])
    corpus_chars = sum(d.chars for d in store.documents())
    again = Ingestor(store, s.ingest, s.store.data_dir, progress=False).run([args.corpus])
    texts = [t for _, t, _ in store.all_chunks()]
    t = time.perf_counter()
    embedder.embed(texts)
    raw_s = time.perf_counter() - t
    docs = [(d.file_name, d.text) for d in store.documents(with_text=True)]
    naive = NaivePipeline(store, work / "naive", None, textbook_embeddings(r))
    naive.build(docs)
    r["ingest"] = {
        "corpus_chars": corpus_chars,
        "ragqa_chunks": first.chunks_added,
        "ragqa_first_s": round(first.seconds, 2),
        "ragqa_first_chars_per_s": round(corpus_chars / first.seconds),
        "ragqa_reingest_s": round(again.seconds, 3),
        "raw_embedding_chars_per_s": round(sum(map(len, texts)) / raw_s),
        "textbook_chunks": naive.chunks,
        "textbook_s": round(naive.ingest_seconds, 2),
        "textbook_chars_per_s": round(corpus_chars / naive.ingest_seconds),
    }
    other_precision_ingest(args, settings, work, r, store)
    return store, naive


def textbook_embeddings(r: dict[str, Any]) -> Any:
    """What the textbook uses: LangChain's HuggingFaceEmbeddings (sentence-transformers on torch),
    loaded and warmed outside the timing. Without langchain-huggingface, ragqa's own embedder."""
    try:
        from langchain_huggingface import HuggingFaceEmbeddings

        from vectorstore.onnx_export import model_dir
    except ImportError:
        r["textbook_embeddings"] = "ragqa's embedder (langchain-huggingface not installed)"
        return None
    embeddings = HuggingFaceEmbeddings(model_name=str(model_dir()), encode_kwargs={"normalize_embeddings": True})
    embeddings.embed_documents(["warm up"])
    r["textbook_embeddings"] = "HuggingFaceEmbeddings (sentence-transformers, torch)"
    return embeddings


def evidence_recall(store: ChunkStore, settings: Any, questions_file: Path, k: int = 6) -> float | None:
    """Share of the question set's gold evidence spans found in the top-k retrieved passages."""
    from qa import HybridRetriever

    retriever = HybridRetriever(store, settings.qa)
    qs, _ = load_questions(questions_file)
    hits = [evidence_found(q.evidence, [p.text for p in retriever.retrieve(q.question, k=k)]) for q in qs]
    found = [h for h in hits if h is not None]
    return round(sum(found) / len(found), 3) if found else None


def other_precision_ingest(
    args: argparse.Namespace, settings: Any, work: Path, r: dict[str, Any], default: ChunkStore
) -> None:
    """The same ingest with the other precision of the bundled model (fp32 if the default is
    int8), and the retrieval quality of each: the speed-up counts only if recall holds."""
    mine = settings.store.embedding_precision
    other = "fp32" if mine == "int8" else "int8"
    s = settings.override(data_dir=work / other, embedding_precision=other, model_cache=settings.store.models_dir)
    embedder = make_embedder(s.store)
    embedder.embed(["warm up"])  # exports or quantizes once, outside the timing
    store = ChunkStore(s.store, embedder)
    report = Ingestor(store, s.ingest, s.store.data_dir, progress=False).run([args.corpus])
    r["ingest"]["other_precision"] = other
    r["ingest"]["other_first_s"] = round(report.seconds, 2)
    r["ingest"]["other_first_chars_per_s"] = round(r["ingest"]["corpus_chars"] / report.seconds)
    r["evidence_recall_at_6"] = {
        mine: evidence_recall(default, settings, args.questions),
        other: evidence_recall(store, s, args.questions),
    }
