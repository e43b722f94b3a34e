"""Shared fixtures: every test gets its own data dir; real-corpus fixtures are session-scoped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
DEV_SET = SHARED / "eval" / "dev.jsonl"
FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export of the embedding model for the whole run (each data dir would export again)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> None:
    """No test reads the developer's .env or writes to ./.ragqa."""
    for key in list(os.environ):
        if key.startswith("RAGQA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RAGQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGQA_MODEL_CACHE", str(model_cache))
    monkeypatch.chdir(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:  # type: ignore[type-arg]
    """Poll a local HTTP endpoint until it answers; fail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"server process exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    if proc is not None:
        proc.kill()
    pytest.fail(f"{url} did not come up in {timeout:.0f}s")


SERVER_MODEL = "qwen2.5-coder-1.5b-instruct"  # the default reader, served as a deployment would


@contextmanager
def llama_server(models_dir: Path, *extra: str) -> Iterator[str]:
    """A real llama.cpp OpenAI-compatible server (`python -m llama_cpp.server`) for the bundled
    default Qwen model on a free loopback port."""
    from qa.models import MODELS, assemble

    gguf = assemble(MODELS[SERVER_MODEL], models_dir)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            "2",
            "--verbose",
            "False",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_up(f"{url}/models", proc, 240)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def fake_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings with the hash fake embedder and an embedded Chroma in tmp."""
    from settings import Settings

    s = Settings().override(data_dir=tmp_path / "store")
    s.store.embeddings = "fake"
    s.qa.llm = "extractive"  # tests of the LLM path inject a scripted generator
    return s


@pytest.fixture(scope="session")
def corpus_store(tmp_path_factory: pytest.TempPathFactory, model_cache: Path):  # type: ignore[no-untyped-def]
    """The shared corpus ingested once with the real MiniLM model (session-wide)."""
    if not CORPUS.exists():
        pytest.skip("../shared/corpus is not present")
    from cli import build_store
    from ingest import Ingestor
    from settings import Settings

    data = tmp_path_factory.mktemp("corpus-data")
    settings = Settings().override(data_dir=data, model_cache=model_cache)
    store = build_store(settings)
    report = Ingestor(store, settings.ingest, data, progress=False).run([CORPUS])
    assert not report.files_failed, report.files_failed
    return settings, store, report


@pytest.fixture(scope="session")
def corpus_answerer(corpus_store):  # type: ignore[no-untyped-def]
    from qa import Answerer

    settings, store, _ = corpus_store
    return Answerer(store, settings.qa)


@dataclass
class Served:
    url: str
    data_dir: Path
    log: Path


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `ragqa serve --docs ../shared/corpus` for the browser tests, as a user starts it
    (default backend: the local 1.5B model)."""
    if not CORPUS.exists():
        pytest.skip("../shared/corpus is not present")
    data = tmp_path_factory.mktemp("serve-data")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")} | {"RAGQA_DATA_DIR": str(data)}
    log = data / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--docs", str(CORPUS), "--port", str(port), "--host", "127.0.0.1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, 300)
        yield Served(url, data, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def server(served: Served) -> str:
    return served.url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--headless",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def open_page(browser: object, width: int, height: int, url: str) -> Iterator[object]:
    """A fresh page (its own Gradio session) on the served app."""
    page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    yield page
    page.close()
