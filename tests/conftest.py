"""Shared fixtures: every test gets its own data dir; real-corpus fixtures are session-scoped."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
DEV_SET = SHARED / "eval" / "dev.jsonl"
FIXTURES = Path(__file__).parent / "fixtures"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's .env or writes to ./.ragqa."""
    for key in list(os.environ):
        if key.startswith("RAGQA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RAGQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(data_dir: Path, **flags: object):  # type: ignore[no-untyped-def]
    from settings import Settings

    return Settings().override(data_dir=data_dir, **flags)


@pytest.fixture
def fake_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings with the hash fake embedder and an embedded Chroma in tmp."""
    from settings import Settings

    s = Settings().override(data_dir=tmp_path / "store")
    s.store.embeddings = "fake"
    return s


@pytest.fixture(scope="session")
def corpus_store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The shared corpus ingested once with the real MiniLM model (session-wide)."""
    if not CORPUS.exists():
        pytest.skip("../shared/corpus is not present")
    from cli import build_store
    from ingest import Ingestor
    from settings import Settings

    data = tmp_path_factory.mktemp("corpus-data")
    settings = Settings().override(data_dir=data)
    store = build_store(settings)
    report = Ingestor(store, settings.ingest, data, progress=False).run([CORPUS])
    assert not report.files_failed, report.files_failed
    return settings, store, report


@pytest.fixture(scope="session")
def corpus_answerer(corpus_store):  # type: ignore[no-untyped-def]
    from qa import Answerer

    settings, store, _ = corpus_store
    return Answerer(store, settings.qa)
