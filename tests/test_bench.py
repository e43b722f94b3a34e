"""`ragqa bench`'s scale measurement on a small store (fake embeddings): it writes through
vectorstore, measures the saved lexical index and a one-document ingest, starts `serve` on the
largest store, and writes only under --out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.scale import measure_scale
from cli import build_store
from ingest import Ingestor
from tests.conftest import FIXTURES, ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_scale_curve_writes_only_under_out(fake_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RAGQA_EMBEDDINGS", "fake")  # the `serve` child process too
    work, out = tmp_path / "work", tmp_path / "out"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("treaty.md", "statute.md", "news.txt"):
        shutil.copy(FIXTURES / name, corpus)
    settings = fake_settings.override(data_dir=work / "ragqa")
    store = build_store(settings)
    Ingestor(store, settings.ingest, settings.store.data_dir, progress=False).run([corpus])
    before = sorted(p.name for p in ROOT.iterdir())
    r: dict = {}  # type: ignore[type-arg]
    measure_scale(fake_settings, work, ["withdraw notice", "talks resume"], r, [1, 3], out)
    one, three = r["scale"]
    assert three["chunks"] == 3 * one["chunks"] == 3 * store.count()
    assert {"index_build_s", "index_load_s", "ingest_one_doc_s", "p95_ms", "serve_to_first_answer_s"} <= set(three)
    assert (out / "scale.png").exists()
    assert sorted(p.name for p in ROOT.iterdir()) == before, "the bench wrote into the repository"
