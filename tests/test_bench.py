"""`ragqa bench`'s scale measurement on a small store (fake embeddings): it writes through
vectorstore, measures the saved lexical index and a one-document ingest, starts `serve` at each scale and
against a Chroma server at the largest, and writes only under --out."""

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
    # One store grown copy by copy: the document ingested at the first scale is still there.
    assert one["chunks"] == store.count() and three["chunks"] == 3 * store.count() + 1
    for key in ("index_build_s", "index_load_s", "ingest_one_doc_s", "dense_p95_ms", "bm25_p95_ms", "fused_p95_ms"):
        assert three[key] >= 0
    assert three["serve_to_first_answer_s"] > 0 and three["serve_peak_mb"] > 0 and three["disk_mb"] > 0
    # The largest store served through `chroma run`: both processes measured.
    assert r["scale_server"]["server_rss_mb"] > 0 and r["scale_server"]["serve_peak_mb"] > 0
    assert r["scale_server"]["fused_p95_ms"] > 0
    assert (out / "scale.png").exists()
    assert sorted(p.name for p in ROOT.iterdir()) == before, "the bench wrote into the repository"
