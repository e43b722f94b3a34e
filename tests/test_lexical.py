"""The persisted BM25 index: saved with the store's version, loaded instead of rebuilt, and
rebuilt when the store changed behind its back (real embedded Chroma, fake embeddings)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli import build_store, main
from ingest import Ingestor
from qa import lexical
from qa.lexical import LexicalIndex, load_or_build
from tests.conftest import FIXTURES


@pytest.fixture
def store(fake_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURES / "treaty.md", corpus)
    store = build_store(fake_settings)
    Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run([corpus])
    return store


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("the index was rebuilt instead of loaded")

    monkeypatch.setattr(LexicalIndex, "__init__", fail)


def test_a_saved_index_is_loaded_with_the_same_scores(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    built = load_or_build(store)
    assert (store.config.lexical_path / "CURRENT").read_text() == store.version()
    _no_rebuild(monkeypatch)
    loaded = load_or_build(store)
    assert loaded.ids == built.ids and loaded.df == built.df and loaded.acronyms == built.acronyms
    assert (loaded.scores("withdraw notice ninety days") == built.scores("withdraw notice ninety days")).all()
    assert loaded.scores("withdraw notice").max() > 0


def test_a_store_changed_behind_the_index_is_detected_and_rebuilt(store, fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old = load_or_build(store)
    more = tmp_path / "more"
    more.mkdir()
    shutil.copy(FIXTURES / "news.txt", more)
    # An ingest that does not touch the index (another process, an older release).
    Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run([more])
    assert LexicalIndex.load(store.config.lexical_path, store.version()) is None  # stale: another version
    new = load_or_build(store)
    assert len(new.ids) == store.count() > len(old.ids)
    assert {m.file_name for m in new.metas} == {"treaty.md", "news.txt"}
    # Only the current version is kept on disk.
    assert [p.name for p in store.config.lexical_path.iterdir() if p.is_dir()] == [store.version()]


def test_a_damaged_index_is_rebuilt_not_fatal(store, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    load_or_build(store)
    (store.config.lexical_path / store.version() / "state.json").write_text('{"format": 1, "ids": [')
    index = load_or_build(store)
    assert len(index.ids) == store.count() and "unusable" in caplog.text


def test_cli_ingest_saves_the_index_and_a_lexical_dir_setting_moves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared-lexical"
    monkeypatch.setenv("RAGQA_EMBEDDINGS", "fake")
    monkeypatch.setenv("RAGQA_LEXICAL_DIR", str(shared))
    corpus = tmp_path / "c"
    corpus.mkdir()
    shutil.copy(FIXTURES / "statute.md", corpus)
    assert main(["ingest", str(corpus), "--json"]) == 0
    assert (shared / "ragqa" / "CURRENT").exists()
    saved = (shared / "ragqa" / "CURRENT").read_text()
    assert lexical.LexicalIndex.load(shared / "ragqa", saved) is not None
