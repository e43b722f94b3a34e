from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cli import build_store, main
from ingest import Ingestor
from vectorstore import StoreError

FIXTURES = Path(__file__).parent / "fixtures"


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "treaties").mkdir(parents=True)
    (corpus / "news").mkdir()
    shutil.copy(FIXTURES / "treaty.md", corpus / "treaties" / "treaty.md")
    shutil.copy(FIXTURES / "statute.md", corpus / "statute.md")
    shutil.copy(FIXTURES / "news.txt", corpus / "news" / "news.txt")
    return corpus


def _ingest(settings, paths, **kw):  # type: ignore[no-untyped-def]
    store = build_store(settings)
    return store, Ingestor(store, settings.ingest, settings.store.data_dir, progress=False).run(paths, **kw)


def test_ingest_is_incremental_and_idempotent(fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path)
    store, first = _ingest(fake_settings, [corpus])
    assert (first.files_ingested, first.files_failed) == (3, [])
    n = store.count()
    assert n == first.chunks_added > 3
    _, second = _ingest(fake_settings, [corpus])
    assert (second.files_unchanged, second.chunks_added, second.chunks_deleted) == (3, 0, 0)
    assert build_store(fake_settings).count() == n
    docs = {d.file_name: d for d in store.documents()}
    assert (
        docs["treaty.md"].doc_type == "treaty"
        and docs["statute.md"].doc_type == "law"
        and docs["news.txt"].date == "2020-03-04"
    )


def test_changed_file_replaces_its_chunks_and_prune_removes_gone_files(fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path)
    store, _ = _ingest(fake_settings, [corpus])
    old_news = sum(1 for _, _, m in store.all_chunks() if m.file_name == "news.txt")
    (corpus / "news" / "news.txt").write_text(" date 2020-03-05 Updated talks\n\nOnly one paragraph now.\n")
    _, report = _ingest(fake_settings, [corpus])
    assert report.files_ingested == 1 and report.chunks_deleted == old_news and report.chunks_added == 1
    texts = [t for _, t, m in store.all_chunks() if m.file_name == "news.txt"]
    assert texts == ["Only one paragraph now."]
    (corpus / "statute.md").unlink()
    _, report = _ingest(fake_settings, [corpus], prune=True)
    assert report.documents_removed == 1
    assert "statute.md" not in {d.file_name for d in store.documents()}
    assert all(m.file_name != "statute.md" for _, _, m in store.all_chunks())


def test_chunk_metadata_is_complete_and_offsets_exact(fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path)
    store, _ = _ingest(fake_settings, [corpus])
    docs = {d.doc_id: d for d in store.documents(with_text=True)}
    for _, text, meta in store.all_chunks():
        doc = docs[meta.doc_id]
        assert doc.text[meta.start : meta.end] == text
        assert meta.section.startswith(doc.title) and meta.content_hash == doc.content_hash and meta.title
        assert meta.file_name == Path(meta.source).name


def test_bad_files_are_reported_and_good_ones_ingested(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus(tmp_path)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "bin.txt").write_bytes(b"\x00\x01" * 100)
    (corpus / "cut.pdf").write_bytes(b"%PDF-1.4\n1 0 obj")
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8")
    data = tmp_path / "d"
    import os

    os.environ["RAGQA_EMBEDDINGS"] = "fake"
    try:
        code = main(["ingest", str(corpus), "--data-dir", str(data), "--json"])
    finally:
        del os.environ["RAGQA_EMBEDDINGS"]
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["files_ingested"] == 3 and out["files_seen"] == 7
    errors = {Path(f["path"]).name: f["error"] for f in out["files_failed"]}
    assert set(errors) == {"empty.txt", "bin.txt", "cut.pdf"}
    assert "empty" in errors["empty.txt"] and "binary" in errors["bin.txt"] and "PDF" in errors["cut.pdf"]
    assert [Path(f["path"]).name for f in out["files_skipped"]] == ["photo.jpg"]
    for key in (
        "files_seen",
        "files_ingested",
        "files_unchanged",
        "files_failed",
        "chunks_added",
        "chunks_deleted",
        "seconds",
    ):
        assert key in out


def test_model_mismatch_stops_with_rebuild_hint(fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _ingest(fake_settings, [_corpus(tmp_path)])
    from vectorstore import ChunkStore

    class OtherModel:
        name, dim = "other-model", 32

        def embed(self, texts):  # type: ignore[no-untyped-def]
            raise AssertionError

    with pytest.raises(StoreError, match=r"built with model fake-hash-64 \(64 dims\).*--rebuild"):
        ChunkStore(fake_settings.store, OtherModel())  # type: ignore[arg-type]


def test_a_store_opened_with_another_search_breadth_takes_it(fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """ef_search is a search-time setting: a store built with Chroma's default gets ours on open."""
    from cli import build_store

    fake_settings.store.hnsw_ef_search = 100
    _ingest(fake_settings, [_corpus(tmp_path)])
    fake_settings.store.hnsw_ef_search = 1000
    store = build_store(fake_settings)
    assert store.chunks.configuration["hnsw"]["ef_search"] == 1000
    assert store.count() > 0  # nothing was rebuilt


def test_rebuild_starts_from_scratch(fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path)
    store, first = _ingest(fake_settings, [corpus])
    _, again = _ingest(fake_settings, [corpus], rebuild=True)
    assert again.files_ingested == 3 and again.chunks_added == first.chunks_added
    assert build_store(fake_settings).count() == first.chunks_added


def test_search_and_stats_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGQA_EMBEDDINGS", "fake")
    corpus = _corpus(tmp_path)
    assert main(["ingest", str(corpus)]) == 0
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["documents"] == 3 and stats["chunks"] > 3 and stats["by_doc_type"]["treaty"] == 1
    assert main(["search", "withdraw notice Depositary", "--json", "-k", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["file_name"] == "treaty.md" and "withdraw" in hits[0]["text"]
    assert main(["search", "talks", "--json", "--doc-type", "news"]) == 0
    assert {h["doc_type"] for h in json.loads(capsys.readouterr().out)} == {"news"}


def test_missing_store_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--data-dir", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ragqa ingest" in err


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ragqa search … | head`: the reader leaves before ragqa writes; no BrokenPipeError traceback."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("RAGQA_EMBEDDINGS", "fake")
    assert main(["ingest", str(_corpus(tmp_path)), "--json"]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "search", "treaty", "-k", "5"],
        cwd=Path(__file__).parent.parent,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` exiting before the first line arrives
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_only_an_unfinished_ingest_makes_the_next_one_scan_for_orphans(
    fake_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from ingest.pipeline import PENDING

    store = build_store(fake_settings)
    data = fake_settings.store.data_dir
    corpus = _corpus(tmp_path)
    Ingestor(store, fake_settings.ingest, data, progress=False).run([corpus])
    assert not (data / PENDING).exists()
    scans: list[int] = []
    monkeypatch.setattr(store, "repair", lambda: scans.append(1) or 0)
    Ingestor(store, fake_settings.ingest, data, progress=False).run([corpus])
    assert scans == []  # the last run finished: nothing to repair, no full scan
    (data / PENDING).touch()  # as a killed run leaves it
    Ingestor(store, fake_settings.ingest, data, progress=False).run([corpus])
    assert scans == [1] and not (data / PENDING).exists()


def test_an_ingest_reads_only_the_records_of_its_files(
    fake_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    store, _ = _ingest(fake_settings, [_corpus(tmp_path)])
    listed: list[int] = []
    real = store.documents

    def documents(with_text: bool = False, sources=None):  # type: ignore[no-untyped-def]
        found = real(with_text, sources)
        listed.append(len(found))
        return found

    monkeypatch.setattr(store, "documents", documents)
    one = tmp_path / "corpus" / "news" / "news.txt"
    one.write_text(" date 2020-03-05 Updated talks\n\nOnly one paragraph now.\n")
    report = Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run([one])
    # The changed file's old record was found (its old chunks went), and no other record was read.
    assert listed == [1] and report.chunks_deleted > 0 and report.chunks_added == 1
    Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run([one], prune=True)
    assert listed[-1] == 3  # pruning looks at every document


class _SearchMissesOne:
    """A real Chroma collection whose search misses the first chunk written until that chunk
    is written again: the unreachable record of chroma-core/chroma#7758, made certain."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.lost: str | None = None
        self.rewritten = False
        self.added: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def upsert(self, **kw: Any) -> None:
        self.lost = self.lost or kw["ids"][0]
        self.real.upsert(**kw)

    def add(self, **kw: Any) -> None:
        self.added += kw["ids"]
        self.rewritten = self.rewritten or self.lost in kw["ids"]
        self.real.add(**kw)

    def query(self, **kw: Any) -> Any:
        out = self.real.query(**kw)
        if not self.rewritten:
            out["ids"] = [[i for i in hits if i != self.lost] for hits in out["ids"]]
        return out


def test_a_chunk_search_cannot_reach_is_written_again(fake_settings, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    store = build_store(fake_settings)
    chunks = _SearchMissesOne(store.chunks)
    store.chunks = chunks
    report = Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run(
        [_corpus(tmp_path)]
    )
    assert chunks.lost is not None and chunks.added == [chunks.lost]  # that chunk alone, once
    assert "relinked 1 of 1 chunks" in caplog.text
    # Nothing lost or doubled: the chunk keeps its text and metadata, and search now finds it.
    assert store.count() == report.chunks_added
    again = chunks.real.get(ids=[chunks.lost], include=["embeddings", "documents", "metadatas"])
    assert again["documents"][0] and again["metadatas"][0]["doc_id"]
    assert chunks.query(query_embeddings=again["embeddings"], n_results=1, include=[])["ids"] == [[chunks.lost]]


def test_chunks_search_reaches_are_written_once(fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = build_store(fake_settings)
    chunks = _SearchMissesOne(store.chunks)
    chunks.rewritten = True  # search finds everything
    store.chunks = chunks
    report = Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run(
        [_corpus(tmp_path)]
    )
    assert chunks.added == [] and store.count() == report.chunks_added
