"""Real components: the MiniLM model over the shared corpus, and a real Chroma server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cli import build_store, main
from ingest import Ingestor
from tests.conftest import CORPUS, FIXTURES, ROOT, free_port, wait_until_up

pytestmark = pytest.mark.integration


def test_minilm_search_finds_the_seed_article(corpus_store) -> None:  # type: ignore[no-untyped-def]
    settings, store, report = corpus_store
    assert report.files_ingested == 17 and report.chunks_added == store.count()
    from qa import HybridRetriever

    top = HybridRetriever(store, settings.qa).retrieve("INF treaty withdrawal February", k=3)
    assert "2019-01-16-lavrov-inf.txt" in [p.file_name for p in top]


def test_dense_search_returns_the_exact_nearest_passages(corpus_store) -> None:  # type: ignore[no-untyped-def]
    """Chroma's HNSW search is approximate: with its default breadth (ef_search 100) 4-6 of these
    132 questions got a top-40 that missed a near passage, a different one in each process, so
    the same question was read with other passages from one run to the next."""
    import numpy as np

    _, store, _ = corpus_store
    rows = store.chunks.get(include=["embeddings"])
    vectors = np.asarray(rows["embeddings"], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    files = [CORPUS.parent / "eval" / "dev.jsonl", *sorted((ROOT / "eval" / "sets").glob("*.jsonl"))]
    questions = [json.loads(line)["question"] for f in files if f.exists() for line in f.open()]
    assert len(questions) > 100
    inexact = []
    for q in questions:
        v = np.asarray(store.embedder.embed([q])[0], dtype=np.float64)
        exact = {rows["ids"][i] for i in np.argsort(-(vectors @ (v / np.linalg.norm(v))))[:40]}
        if {h.id for h in store.query(v, 40, None)} != exact:
            inexact.append(q)
    assert not inexact, inexact


@pytest.mark.slow
def test_a_passage_written_after_the_corpus_is_found_by_search(corpus_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A short note unlike the treaties, ingested after them, was found by `get` but never by
    `query` in 15 of 33 fresh stores (Chroma's graph, built with its default
    ef_construction, left it unlinked): an uploaded file went unanswered until a restart.
    Five fresh ingests; the note must be found by its own vector each time."""
    settings, _, _ = corpus_store
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "water-plant.txt").write_text(
        "The Riverside water plant treats 48 million litres of water a day, the operator said in March.\n\n"
        "Its second filter line opened on 4 May 2023.\n"
    )
    for trial in range(5):
        data = tmp_path / f"data{trial}"
        trial_settings = settings.override(data_dir=data)
        store = build_store(trial_settings)
        Ingestor(store, trial_settings.ingest, data, progress=False).run([CORPUS, notes])
        note = store.chunks.get(where={"file_name": "water-plant.txt"}, include=["embeddings"])
        found = store.chunks.query(query_embeddings=note["embeddings"], n_results=1, include=[])["ids"][0]
        assert found == note["ids"], f"fresh ingest {trial}: the note is not found by its own vector"


def test_reingest_of_unchanged_corpus_adds_nothing(corpus_store) -> None:  # type: ignore[no-untyped-def]
    settings, store, first = corpus_store
    again = Ingestor(store, settings.ingest, settings.store.data_dir, progress=False).run([CORPUS])
    assert (again.files_unchanged, again.chunks_added, again.chunks_deleted) == (17, 0, 0)
    assert again.seconds < first.seconds  # a fraction in practice; the ratio is measured by `ragqa bench`


@pytest.fixture
def chroma_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    exe = shutil.which("chroma") or str(Path(os.sys.executable).parent / "chroma")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    wait_until_up(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, 60)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_chroma_server_mode_by_configuration_only(
    chroma_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAGQA_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("RAGQA_CHROMA_PORT", str(chroma_server))
    monkeypatch.setenv("RAGQA_EMBEDDINGS", "fake")
    corpus = tmp_path / "c"
    corpus.mkdir()
    shutil.copy(FIXTURES / "treaty.md", corpus)
    assert main(["ingest", str(corpus), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files_ingested"] == 1
    assert main(["ingest", str(corpus), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chunks_added"] == 0
    assert main(["stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 1 and stats["store"] == f"127.0.0.1:{chroma_server}"
    assert not (tmp_path / "data" / "chroma").exists(), "nothing was written to the embedded store"
    assert main(["search", "withdraw notice", "--json", "-k", "2"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["file_name"] == "treaty.md"


def test_unreachable_chroma_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAGQA_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("RAGQA_CHROMA_PORT", str(free_port()))
    monkeypatch.setenv("RAGQA_EMBEDDINGS", "fake")
    assert main(["stats"]) == 2
    assert "unreachable" in capsys.readouterr().err


def test_build_store_reuses_settings(corpus_store) -> None:  # type: ignore[no-untyped-def]
    settings, store, _ = corpus_store
    assert build_store(settings, create=False).count() == store.count()


def test_chroma_server_outage_gives_a_clear_error_and_recovers(tmp_path: Path) -> None:
    """The server stops while the app runs: a clear StoreError (shown in the chat), then
    answers again once the server is back on the same path and port."""
    from qa import Answerer
    from settings import Settings
    from vectorstore import StoreError

    exe = shutil.which("chroma") or str(Path(os.sys.executable).parent / "chroma")
    port = free_port()
    cmd = [exe, "run", "--path", str(tmp_path / "srv"), "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        wait_until_up(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, 60)
        return proc

    proc = start()
    try:
        s = Settings().override(data_dir=tmp_path / "d")
        s.store.embeddings, s.store.chroma_host, s.store.chroma_port = "fake", "127.0.0.1", port
        corpus = tmp_path / "c"
        corpus.mkdir()
        shutil.copy(FIXTURES / "treaty.md", corpus)
        store = build_store(s)
        Ingestor(store, s.ingest, s.store.data_dir, progress=False).run([corpus])
        answerer = Answerer(store, s.qa)
        question = "How much notice must a Party give to withdraw from the Treaty on Example Matters?"
        assert "ninety days" in answerer.ask(question).answer
        proc.terminate()
        proc.wait(timeout=30)
        with pytest.raises(StoreError, match="store did not answer"):
            answerer.ask(question)
        proc = start()
        assert "ninety days" in answerer.ask(question).answer
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_onnx_model_gives_sentence_transformers_vectors(model_cache: Path) -> None:
    """The ONNX Runtime copy must be the same model: same vectors as sentence-transformers."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from vectorstore import MiniLMEmbedder
    from vectorstore.onnx_export import model_dir

    texts = ["When did the US leave the INF treaty?", "ok", "word " * 400, "Ünïcode “quotes” — dashes"]
    reference = SentenceTransformer(str(model_dir()), device="cpu").encode(texts, normalize_embeddings=True)
    fp32 = MiniLMEmbedder(model_cache).embed(texts)
    assert np.sum(fp32 * reference, axis=1).min() > 0.9999
    int8 = MiniLMEmbedder(model_cache, "int8")
    cos = np.sum(int8.embed(texts) * reference, axis=1)
    assert cos.min() > 0.95 and cos.max() < 0.9999  # close, but not the same vectors...
    assert int8.name != MiniLMEmbedder(model_cache).name  # ...so a store knows which it holds


def test_a_text_gets_the_same_vector_whatever_is_embedded_with_it(model_cache: Path) -> None:
    """int8 quantises a batch's activations with one scale; batched, a sentence's vector (and so an
    answer) depended on the sentences embedded beside it."""
    import numpy as np

    from vectorstore import MiniLMEmbedder

    texts = ["The treaty entered into force on 1 June 1988.", "ok", "Paris " * 60, "Who signed it?"]
    for precision in ("int8", "fp32"):
        embedder = MiniLMEmbedder(model_cache, precision)  # type: ignore[arg-type]
        alone = np.stack([embedder.embed([t])[0] for t in texts])
        assert np.array_equal(embedder.embed(texts), alone), precision
        assert np.array_equal(embedder.embed(texts[::-1])[::-1], alone), precision


def test_exported_model_uses_fused_kernels(model_cache: Path) -> None:
    """The export is measured fast because ONNX Runtime fuses attention; a transformers change
    that breaks the fusion would keep the vectors right and silently lose the speed."""
    import onnx

    from vectorstore import MiniLMEmbedder
    from vectorstore.onnx_export import onnx_file

    MiniLMEmbedder(model_cache, "int8").embed(["x"])
    ops = {p: {n.op_type for n in onnx.load(str(onnx_file(model_cache, p))).graph.node} for p in ("fp32", "int8")}
    assert {"Attention", "SkipLayerNormalization"} <= ops["fp32"]
    assert "QAttention" in ops["int8"]


def test_damaged_model_file_is_a_clear_error(tmp_path: Path, model_cache: Path) -> None:
    from vectorstore import EmbeddingError, MiniLMEmbedder
    from vectorstore.onnx_export import onnx_file

    shutil.copytree(model_cache, tmp_path / "models")
    onnx_file(tmp_path / "models", "fp32").write_bytes(b"not a model")
    with pytest.raises(EmbeddingError, match="delete it to export it again"):
        MiniLMEmbedder(tmp_path / "models").embed(["x"])


def test_answering_does_not_import_torch(corpus_store) -> None:  # type: ignore[no-untyped-def]
    """Why `ragqa ask` starts in seconds: the query path runs on ONNX Runtime only."""
    settings, _, _ = corpus_store
    code = (
        "import sys; from cli import main; main(['ask', 'When was the US exit date from the INF treaty?']); "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))"
    )
    env = {
        **os.environ,
        "RAGQA_DATA_DIR": str(settings.store.data_dir),
        "RAGQA_MODEL_CACHE": str(settings.store.models_dir),
    }
    out = subprocess.run(
        [os.sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-800:]
    assert "February 2" in out.stdout and out.stdout.strip().endswith("[]")


@pytest.mark.slow
def test_two_serve_replicas_share_one_chroma_server_and_one_lexical_dir(chroma_server: int, tmp_path: Path) -> None:
    """Two `ragqa serve` processes, each with its own data dir, against one Chroma server and
    one shared lexical dir: the ingest saves the index once, both replicas load it and answer."""
    import sys

    from gradio_client import Client

    lexical = tmp_path / "shared-lexical"
    base = {
        **os.environ,
        "RAGQA_CHROMA_HOST": "127.0.0.1",
        "RAGQA_CHROMA_PORT": str(chroma_server),
        "RAGQA_LEXICAL_DIR": str(lexical),
        "RAGQA_EMBEDDINGS": "fake",
        "RAGQA_LLM": "extractive",
    }
    corpus = tmp_path / "c"
    corpus.mkdir()
    shutil.copy(FIXTURES / "treaty.md", corpus)
    ingest = [sys.executable, "-m", "cli", "ingest", str(corpus)]
    subprocess.run(ingest, cwd=ROOT, env={**base, "RAGQA_DATA_DIR": str(tmp_path / "ingester")}, check=True)
    saved = json.loads((lexical / "ragqa" / "CURRENT").read_text())["base"]
    procs, urls = [], []
    try:
        for name in ("replica-a", "replica-b"):
            port = free_port()
            env = {**base, "RAGQA_DATA_DIR": str(tmp_path / name)}
            log = (tmp_path / f"{name}.log").open("w")
            cmd = [sys.executable, "-m", "cli", "serve", "--port", str(port), "--host", "127.0.0.1", "-v"]
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            wait_until_up(url, proc, 180)
        for url in urls:
            got = Client(url, verbose=False).predict(
                "How many days notice must a Party give to withdraw?", api_name="/ask"
            )
            assert not got["abstained"] and "ninety days" in got["answer"]
            assert got["citations"][0]["source"] == "treaty.md"
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    for name in ("replica-a", "replica-b"):
        log_text = (tmp_path / f"{name}.log").read_text()
        assert "loaded in" in log_text and "updated in" not in log_text, log_text[-2000:]
    assert [p.name for p in (lexical / "ragqa").iterdir() if p.is_dir()] == [saved]  # built once, by the ingest
