"""The persisted BM25 index: saved with the store's version, loaded instead of rebuilt, brought
up to date by a small delta when a few documents change behind its back, rebuilt when many do
(real embedded Chroma, fake embeddings)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli import build_store, main
from ingest import Ingestor
from qa.lexical import LexicalIndex, load_or_build
from qa.text import tokens
from tests.conftest import FIXTURES


def _ingest(settings, store, tmp_path: Path, *names: str, prune: bool = False) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(FIXTURES / name, corpus)
    Ingestor(store, settings.ingest, settings.store.data_dir, progress=False).run([corpus], prune=prune)


@pytest.fixture
def store(fake_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    store = build_store(fake_settings)
    _ingest(fake_settings, store, tmp_path, "treaty.md", "statute.md")
    return store


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the base index was rebuilt")

    monkeypatch.setattr(LexicalIndex, "build", fail)


def _ids(index: LexicalIndex) -> list[str]:
    return [index.chunk(int(r))[0] for r in index.live_rows()]


def _current(store) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return json.loads((store.config.lexical_path / "CURRENT").read_text())


def test_a_saved_index_is_loaded_with_the_same_scores(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    built = load_or_build(store)
    assert _current(store)["version"] == store.version() and _current(store)["delta"] is None
    _no_rebuild(monkeypatch)
    loaded = load_or_build(store)
    assert _ids(loaded) == _ids(built) and loaded.acronyms == built.acronyms
    words = tokens("withdrawal notice treaty ninety days")
    assert all(loaded.df(t) == built.df(t) for t in words) and min(map(built.df, words)) > 0
    query = "withdraw notice ninety days"
    assert (loaded.scores(query) == built.scores(query)).all() and loaded.scores(query).max() > 0


def test_a_document_added_behind_the_index_arrives_as_a_delta(  # type: ignore[no-untyped-def]
    store, fake_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_or_build(store)
    # An ingest that does not touch the index (another process, an older release).
    _ingest(fake_settings, store, tmp_path, "news.txt")
    assert LexicalIndex.load(store.config.lexical_path, store.version()) is None  # stale: another version
    with monkeypatch.context() as m:
        _no_rebuild(m)
        index = load_or_build(store)  # the base is kept, the news article is a delta
    assert _current(store)["delta"] and len(index) == store.count()
    scores = index.scores("Vienna negotiators resume talks")
    best = index.chunk(int(scores.argmax()))[2]
    assert best.file_name == "news.txt" and scores.max() > 0
    # The same ranking as a base built from scratch over the same chunks.
    fresh = LexicalIndex.build(list(store.all_chunks()))
    best_fresh = int(fresh.scores("Vienna negotiators resume talks").argmax())
    assert fresh.chunk(best_fresh)[0] == index.chunk(int(scores.argmax()))[0]
    # A new process loads base + delta.
    with monkeypatch.context() as m:
        _no_rebuild(m)
        again = load_or_build(store)
    assert _ids(again) == _ids(index) and (again.scores("Vienna talks") == index.scores("Vienna talks")).all()


def test_a_removed_document_leaves_no_rows_to_find(store, fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_or_build(store)
    (tmp_path / "corpus" / "statute.md").unlink()
    _ingest(fake_settings, store, tmp_path, prune=True)
    index = load_or_build(store)
    assert {index.chunk(int(r))[2].file_name for r in index.live_rows()} == {"treaty.md"}
    rows = range(len(index.live))
    gone = [i for i in rows if index.chunk(i)[2].file_name == "statute.md"]
    assert gone and not index.scores("Secretary report Congress")[gone].any()
    assert all(index.row_of(index.chunk(i)[0]) is None for i in gone)


def test_many_changes_rebuild_the_base(store, fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load_or_build(store)
    first_base = _current(store)["base"]
    _ingest(fake_settings, store, tmp_path, "news.txt")  # a third of the documents: more than the delta share
    (tmp_path / "corpus" / "treaty.md").write_text("# Treaty on Other Matters\n\n### Article  I\n\n1. Nothing.\n")
    _ingest(fake_settings, store, tmp_path)
    index = load_or_build(store)
    current = _current(store)
    assert current["base"] != first_base and current["delta"] is None and len(index) == store.count()
    on_disk = sorted(
        p.name for p in store.config.lexical_path.iterdir() if p.name.startswith(("base-", "delta-", "CUR"))
    )
    assert on_disk == sorted(["CURRENT", current["base"]])  # the old base is gone


def test_a_damaged_index_is_rebuilt_not_fatal(store, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    load_or_build(store)
    (store.config.lexical_path / _current(store)["base"] / "state.json").write_text('{"format": 3, "docs": [')
    index = load_or_build(store)
    assert len(index) == store.count() and "unusable" in caplog.text
    # ...and saved again in place of the damaged one, so the next start loads it.
    assert LexicalIndex.load(store.config.lexical_path, store.version()) is not None


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
    current = json.loads((shared / "ragqa" / "CURRENT").read_text())
    assert LexicalIndex.load(shared / "ragqa", current["version"]) is not None
    assert not (tmp_path / "data" / "lexical").exists()


def test_an_ingest_writes_the_delta_without_loading_the_base(  # type: ignore[no-untyped-def]
    store, fake_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.lexical import update_saved

    load_or_build(store)
    _ingest(fake_settings, store, tmp_path, "news.txt")
    with monkeypatch.context() as m:
        _no_rebuild(m)
        m.setattr(LexicalIndex, "load", lambda *a: pytest.fail("the base was loaded"))
        update_saved(store)
    assert _current(store)["version"] == store.version() and _current(store)["delta"]
    index = load_or_build(store)
    assert "news.txt" in {index.chunk(int(r))[2].file_name for r in index.live_rows()}


def test_an_index_saved_by_an_older_release_is_replaced(store) -> None:  # type: ignore[no-untyped-def]
    folder = store.config.lexical_path
    folder.mkdir(parents=True)
    (folder / "CURRENT").write_text("a76fa09bb3de30b1")  # the first release's plain-text pointer
    index = load_or_build(store)
    assert len(index) == store.count() and _current(store)["version"] == store.version()
