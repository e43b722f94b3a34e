"""`ragqa bench`: speed of ragqa against the textbook LangChain pipeline and against the
machine's raw embedding throughput, all measured in one run, written to BENCHMARKS.md.

Speeds are ratios within one run (the machines are noisy); absolute figures are given
beside them for context only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval import evidence_found, load_questions, percentile
from ingest import Ingestor
from vectorstore import ChunkStore, DocRecord, chunk_id, make_embedder

ROOT = Path(__file__).resolve().parent


def _peak_rss_of(
    cmd: list[str], env: dict[str, str], until: Any = None, timeout: float = 300
) -> tuple[float, float, int]:
    """Run a command; return (seconds, peak RSS in MB over its process tree, exit code).
    `until(proc)` may end the run early (for servers) by returning True."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    peak = 0.0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                p = psutil.Process(proc.pid)
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                peak = max(peak, rss / 1e6)
            except psutil.Error:
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    code = 0
    try:
        while True:
            if until is not None and until(proc):
                seconds = time.perf_counter() - started
                proc.terminate()
                proc.wait(timeout=30)
                break
            if proc.poll() is not None:
                seconds = time.perf_counter() - started
                code = proc.returncode
                break
            if time.perf_counter() - started > timeout:
                proc.kill()
                raise TimeoutError(" ".join(cmd))
            time.sleep(0.1)
    finally:
        done.set()
        thread.join()
    return seconds, peak, code


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ready(port: int) -> bool:
    """True once `ragqa serve` on this port answers a question through its /ask API."""
    try:
        from gradio_client import Client

        result = Client(f"http://127.0.0.1:{port}", verbose=False).predict(
            "When was the US exit date from the INF treaty?", api_name="/ask"
        )
        return bool(result.get("answer"))
    except Exception:
        return False


def load_test(
    url: str, questions: list[str], clients: int = 20, seconds: float = 60, auth: tuple[str, str] | None = None
) -> dict[str, Any]:
    """`clients` gradio_client users asking questions for `seconds` against a running `ragqa serve`:
    latency, throughput and every error (an answer must be a well-formed `/ask` object)."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def user(i: int) -> None:
        client = Client(url, auth=auth, verbose=False)
        n = i
        while time.monotonic() < stop_at:
            question = questions[n % len(questions)]
            n += 7
            t = time.perf_counter()
            try:
                r = client.predict(question, api_name="/ask")
                if not (
                    isinstance(r, dict)
                    and r.get("answer")
                    and isinstance(r.get("citations"), list)
                    and isinstance(r.get("abstained"), bool)
                ):
                    raise ValueError(f"malformed answer: {str(r)[:200]}")
                with lock:
                    latencies.append(time.perf_counter() - t)
            except Exception as exc:  # every failure is counted, none stops the run
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=user, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 300)
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "answers": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "throughput_per_s": round(len(latencies) / elapsed, 2),
        "p50_s": round(percentile(latencies, 0.5), 2),
        "p95_s": round(percentile(latencies, 0.95), 2),
    }


def _env(settings: Any, data_dir: Path, llm: str | None = None) -> dict[str, str]:
    """Environment of a child `ragqa` on a bench data dir, sharing the exported model;
    `llm` pins the answer backend (the load and scale runs measure the store, not the model)."""
    env = {**os.environ, "RAGQA_DATA_DIR": str(data_dir), "RAGQA_MODEL_CACHE": str(settings.store.models_dir)}
    return env | ({"RAGQA_LLM": llm} if llm else {})


def _load(args: argparse.Namespace, settings: Any, work: Path, questions: list[str], r: dict[str, Any]) -> None:
    env = _env(settings, work / "cold", llm="extractive")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 300
        while not ready(port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("ragqa serve did not start for the load test")
            time.sleep(1)
        r["load"] = load_test(f"http://127.0.0.1:{port}", questions, clients=20, seconds=args.load)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _lat(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 0.5) * 1000, 1), "p95_ms": round(percentile(values, 0.95) * 1000, 1)}


def _questions(path: Path) -> list[str]:
    qs, _ = load_questions(path)
    return [q.question for q in qs]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 1e9, 1)
    except ImportError:
        pass
    try:
        flags = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            (line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")), ""
        )
        info["avx2"] = " avx2" in flags
    except OSError:
        pass
    return info


def run(args: argparse.Namespace, settings: Any) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ragqa-bench-"))
    questions = _questions(args.questions)
    results: dict[str, Any] = {"machine": machine(), "corpus": str(args.corpus), "questions": len(questions)}
    try:
        _ingest_and_answers(args, settings, work, questions, results)
        _cold_starts(args, settings, work, results)
        if args.load:
            _load(args, settings, work, questions, results)
        if args.scale:
            _scale(settings, work, questions, results, args.scale, out)
        _server(settings, work, questions, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _ratios(results)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    (out / "BENCHMARKS.md").write_text(render(results))  # only under --out; `make bench` publishes it
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(render(results))
    return 0


def _ingest_and_answers(
    args: argparse.Namespace, settings: Any, work: Path, questions: list[str], r: dict[str, Any]
) -> None:
    from eval.naive import NaivePipeline
    from qa import Answerer, HybridRetriever

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
    naive = NaivePipeline(store, work / "naive", None, _textbook_embeddings(r))
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
    _other_precision_ingest(args, settings, work, r, store)
    retriever = HybridRetriever(store, s.qa)
    lat = []
    for q in questions * 3:
        t = time.perf_counter()
        retriever.retrieve(q)
        lat.append(time.perf_counter() - t)
    r["retrieval"] = _lat(lat)
    answerer = Answerer(store, s.qa)
    r["answers"] = {}
    for backend in ("extractive", "local"):
        try:
            answerer.ask(questions[0], backend=backend)
        except Exception as exc:  # the local model may not be installed
            r["answers"][backend] = {"error": str(exc)}
            continue
        lat = []
        for q in questions:
            t = time.perf_counter()
            answerer.ask(q, backend=backend)
            lat.append(time.perf_counter() - t)
        r["answers"][backend] = _lat(lat)
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
        r["answers"]["textbook"] = _lat(lat)
    except Exception as exc:
        r["answers"]["textbook"] = {"error": str(exc)}
    shutil.copytree(work / "ragqa", work / "cold")  # a ready index for the cold-start runs


def _textbook_embeddings(r: dict[str, Any]) -> Any:
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


def _evidence_recall(store: ChunkStore, settings: Any, questions_file: Path, k: int = 6) -> float | None:
    """Share of the question set's gold evidence spans found in the top-k retrieved passages."""
    from qa import HybridRetriever

    retriever = HybridRetriever(store, settings.qa)
    qs, _ = load_questions(questions_file)
    hits = [evidence_found(q.evidence, [p.text for p in retriever.retrieve(q.question, k=k)]) for q in qs]
    found = [h for h in hits if h is not None]
    return round(sum(found) / len(found), 3) if found else None


def _other_precision_ingest(
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
        mine: _evidence_recall(default, settings, args.questions),
        other: _evidence_recall(store, s, args.questions),
    }


def _cold_starts(args: argparse.Namespace, settings: Any, work: Path, r: dict[str, Any]) -> None:
    env = _env(settings, work / "cold")
    ragqa = [sys.executable, "-m", "cli"]
    help_s, help_mb, _ = _peak_rss_of([*ragqa, "--help"], env)
    ask_s, ask_mb, code = _peak_rss_of([*ragqa, "ask", "When was the US exit date from the INF treaty?", "--json"], env)
    port = free_port()
    serve_s, serve_mb, _ = _peak_rss_of(
        [*ragqa, "serve", "--port", str(port)], env, until=lambda proc: ready(port), timeout=600
    )
    r["cold"] = {
        "help_s": round(help_s, 2),
        "help_peak_mb": round(help_mb),
        "ask_s": round(ask_s, 2),
        "ask_peak_mb": round(ask_mb),
        "ask_exit_code": code,
        "serve_to_first_answer_s": round(serve_s, 2),
        "serve_peak_mb": round(serve_mb),
    }


def _scale(settings: Any, work: Path, questions: list[str], r: dict[str, Any], scales: list[int], out: Path) -> None:
    """Replicate the indexed corpus N times (texts and vectors perturbed so no two chunks are
    equal) straight into a store, then time loading and retrieval. Embedding is left out
    here on purpose: its cost is linear and measured above as raw throughput."""
    import psutil

    from qa import HybridRetriever

    base = ChunkStore(settings.override(data_dir=work / "ragqa").store, make_embedder(settings.store), create=False)
    rows = list(base.all_chunks())
    got = base.chunks.get(ids=[row[0] for row in rows], include=["embeddings"])
    vectors = dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))
    rng = np.random.default_rng(0)
    curve = []
    for n in scales:
        s = settings.override(data_dir=work / f"scale{n}")
        store = ChunkStore(s.store, base.embedder)
        t = time.perf_counter()
        for copy in range(n):
            ids, texts, metas, vecs = [], [], [], []
            for cid, text, meta in rows:
                m = meta.model_copy(
                    update={
                        "doc_id": f"{meta.doc_id}c{copy}",
                        "source": f"{meta.source}#copy{copy}",
                        "title": f"{meta.title} (copy {copy})",
                    }
                )
                ids.append(chunk_id(m.doc_id, m.content_hash, m.chunk_index))
                texts.append(text if copy == 0 else f"{text} [copy {copy}]")
                metas.append(m)
                v = vectors[cid] + rng.normal(0, 0.02, vectors[cid].shape).astype(np.float32) * (copy > 0)
                vecs.append(v / np.linalg.norm(v))
            for i in range(0, len(ids), 1000):
                store.chunks.add(
                    ids=ids[i : i + 1000],
                    embeddings=np.asarray(vecs[i : i + 1000]),
                    documents=texts[i : i + 1000],
                    metadatas=[x.to_chroma() for x in metas[i : i + 1000]],
                )
            docs = {m.doc_id: m for m in metas}
            store.docs.upsert(
                ids=list(docs),
                embeddings=[[1.0] + [0.0] * (base.embedder.dim - 1)] * len(docs),
                documents=[""] * len(docs),
                metadatas=[
                    DocRecord(
                        doc_id=m.doc_id,
                        source=m.source,
                        file_name=m.file_name,
                        title=m.title,
                        doc_type=m.doc_type,
                        date=m.date,
                        content_hash=m.content_hash,
                        chunks=0,
                        chars=0,
                    ).model_dump(exclude={"text"})
                    for m in docs.values()
                ],
            )
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
                **_lat(lat),
            }
        )
        del retriever, store
        if n == max(scales):  # the memory target is for `ragqa serve` itself at the largest index
            port = free_port()
            serve_s, serve_mb, _ = _peak_rss_of(
                [sys.executable, "-m", "cli", "serve", "--port", str(port)],
                _env(settings, work / f"scale{n}", llm="extractive"),
                until=lambda proc, port=port: ready(port),
                timeout=1200,
            )
            curve[-1].update(serve_to_first_answer_s=round(serve_s, 1), serve_peak_mb=round(serve_mb))
        shutil.rmtree(work / f"scale{n}", ignore_errors=True)
    r["scale"] = curve
    _plot(curve, out)


def _ingest_one(settings: Any, store: ChunkStore, work: Path) -> float:
    """Seconds of `ragqa ingest NEW_FILE` into the big store: embed and write one document,
    then bring the saved lexical index up to date (as the CLI does)."""
    from qa.lexical import load_or_build

    doc = work / "one-more" / "2024-01-01-one-more.txt"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(" date 2024-01-01 One more report\n\nDelegates met in Vienna on Monday to discuss verification.\n")
    t = time.perf_counter()
    Ingestor(store, settings.ingest, settings.store.data_dir, progress=False).run([doc.parent])
    load_or_build(store)
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
    fig.savefig(out / "scale.png", dpi=110)
    plt.close(fig)


def _server(settings: Any, work: Path, questions: list[str], r: dict[str, Any]) -> None:
    """The same retrieval against a Chroma server (`chroma run`) started here on loopback."""
    from qa import HybridRetriever

    port = free_port()
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(work / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
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
            "retrieval": _lat(lat),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ratios(r: dict[str, Any]) -> None:
    ing = r["ingest"]
    ratios = {
        "ingest_speedup_vs_textbook": round(ing["ragqa_first_chars_per_s"] / ing["textbook_chars_per_s"], 2),
        "ingest_vs_raw_embedding": round(ing["ragqa_first_chars_per_s"] / ing["raw_embedding_chars_per_s"], 2),
        "reingest_speedup": round(ing["ragqa_first_s"] / max(ing["ragqa_reingest_s"], 1e-6), 1),
    }
    if "other_first_chars_per_s" in ing:
        ratios[f"{ing['other_precision']}_ingest_speedup_vs_textbook"] = round(
            ing["other_first_chars_per_s"] / ing["textbook_chars_per_s"], 2
        )
    answers = r.get("answers", {})
    default = answers.get(r.get("default_backend", "extractive"), {})
    textbook = answers.get("textbook", {})
    if "p50_ms" in default and "p50_ms" in textbook:
        ratios["answer_latency_speedup_vs_textbook"] = round(textbook["p50_ms"] / default["p50_ms"], 1)
    if "p50_ms" in answers.get("local", {}) and "p50_ms" in textbook:
        ratios["local_answer_latency_speedup_vs_textbook"] = round(textbook["p50_ms"] / answers["local"]["p50_ms"], 1)
    r["ratios"] = ratios
    r.update({k: v for k, v in ratios.items()})


def render(r: dict[str, Any]) -> str:
    m, ing, ratios = r["machine"], r["ingest"], r["ratios"]
    lines = [
        "# BENCHMARKS",
        "",
        "Written by `ragqa bench` (do not edit by hand). One run, one machine; compare the ratios, not the seconds.",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} cores, {m.get('memory_gb', '?')} GB, AVX2 {m.get('avx2')}, Python {m.get('python')}. "
        f"Corpus: `{r['corpus']}` ({ing['corpus_chars']:,} characters), {r['questions']} questions.",
        "",
        "## Ratios",
        "",
        "| ratio | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in ratios.items()]
    lines += [
        "",
        "## Ingest (corpus characters per second; model load excluded)",
        "",
        "| pipeline | chunks | seconds | chars/s |",
        "| --- | --- | --- | --- |",
        f"| raw embedding throughput of the model (the limit) | {ing['ragqa_chunks']} | – | {ing['raw_embedding_chars_per_s']:,} |",
        f"| ragqa first ingest ({r['embedding']}) | {ing['ragqa_chunks']} | {ing['ragqa_first_s']} | {ing['ragqa_first_chars_per_s']:,} |",
        f"| ragqa first ingest, {ing.get('other_precision')} model (`RAGQA_EMBEDDING_PRECISION={ing.get('other_precision')}`) | {ing['ragqa_chunks']} | {ing.get('other_first_s', '–')} | {ing.get('other_first_chars_per_s', 0):,} |",
        f"| ragqa re-ingest (unchanged) | 0 | {ing['ragqa_reingest_s']} | – |",
        f"| textbook LangChain (1000/200 splitter, Chroma.from_documents) | {ing['textbook_chunks']} | {ing['textbook_s']} | {ing['textbook_chars_per_s']:,} |",
        "",
        f"Model load: {r['model_load_s']} s. Retrieval quality, gold evidence found in the top 6 passages: "
        + ", ".join(f"{p} {v}" for p, v in r.get("evidence_recall_at_6", {}).items())
        + ".",
        "",
        "## Query latency",
        "",
        "| what | p50 ms | p95 ms |",
        "| --- | --- | --- |",
        f"| retrieval (hybrid BM25 + dense, fused) | {r['retrieval']['p50_ms']} | {r['retrieval']['p95_ms']} |",
    ]
    for name, lat in r.get("answers", {}).items():
        label = (
            "textbook pipeline answer (top-4, stuff prompt, the same local model)"
            if name == "textbook"
            else f"ragqa answer, `{name}` backend"
        )
        lines.append(f"| {label} | {lat.get('p50_ms', lat.get('error', '–'))} | {lat.get('p95_ms', '–')} |")
    if "cold" in r:
        c = r["cold"]
        lines += [
            "",
            "## Cold start and memory (fresh processes, index ready, default backend: the local 1.5B model is loaded)",
            "",
            "| command | seconds | peak RSS MB |",
            "| --- | --- | --- |",
            f"| `ragqa --help` | {c['help_s']} | {c['help_peak_mb']} |",
            f"| `ragqa ask ...` | {c['ask_s']} | {c['ask_peak_mb']} |",
            f"| `ragqa serve` until it answers | {c['serve_to_first_answer_s']} | {c['serve_peak_mb']} |",
        ]
    if "load" in r:
        ld = r["load"]
        lines += [
            "",
            "## Load (`ragqa serve`, extractive backend, one answer at a time by design)",
            "",
            f"{ld['clients']} gradio_client users for {ld['seconds']} s on loopback: {ld['answers']} answers, {ld['errors']} errors, "
            f"{ld['throughput_per_s']} answers/s, latency p50 {ld['p50_s']} s, p95 {ld['p95_s']} s (queueing included).",
        ]
    if "scale" in r:
        lines += [
            "",
            "## Scale (corpus replicated; retrieval only)",
            "",
            "| × | chunks | store writes s | BM25 build + save s | BM25 load s | ingest 1 doc s | retrieval p50 ms | p95 ms | process RSS MB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {c['scale']} | {c['chunks']:,} | {c['store_write_s']} | {c['index_build_s']} | {c['index_load_s']} "
            f"| {c['ingest_one_doc_s']} | {c['p50_ms']} | {c['p95_ms']} | {c['rss_mb']} |"
            for c in r["scale"]
        ]
        top = r["scale"][-1]
        if "serve_peak_mb" in top:
            lines += [
                "",
                f"`ragqa serve` (extractive backend, so this is the store and the lexical index) on the {top['chunks']:,}-chunk index (fresh process): first answer after "
                f"{top['serve_to_first_answer_s']} s, peak RSS {top['serve_peak_mb']} MB.",
            ]
        lines += ["", "![scale](docs/scale.png)"]
    if "chroma_server" in r:
        cs = r["chroma_server"]
        lines += [
            "",
            "## Chroma server (`chroma run` on loopback)",
            "",
            f"Ingest {cs['chunks']} chunks in {cs['ingest_s']} s; retrieval p50 {cs['retrieval']['p50_ms']} ms, p95 {cs['retrieval']['p95_ms']} ms.",
        ]
    return "\n".join(lines) + "\n"
