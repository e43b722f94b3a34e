"""kill -9 in the middle of an ingest: the next run ends with exactly a clean ingest's chunks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _corpus(tmp_path: Path, n: int = 150) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(n):
        # ~3 chunks per document, ~450 in all: more than one embedding batch.
        paras = "\n\n".join(f"Paragraph {j} of document {i} mentions treaty article {j * i}. " * 3 for j in range(12))
        (corpus / f"doc{i:03d}.md").write_text(f"# Document {i}\n\n{paras}\n")
    return corpus


# Runs an ingest that SIGKILLs itself at a chosen point: the kernel ends it exactly as kill -9 would.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from vectorstore import store as st, embeddings as em
    point, after = sys.argv[1], int(sys.argv[2])
    calls = {{"n": 0}}
    def maybe_die():
        calls["n"] += 1
        if calls["n"] > after:
            os.kill(os.getpid(), signal.SIGKILL)
    if point == "embedding":
        orig = em.FakeEmbedder.embed
        def embed(self, texts):
            maybe_die(); return orig(self, texts)
        em.FakeEmbedder.embed = embed
    else:
        from chromadb.api.models.Collection import Collection
        orig = Collection.upsert
        def upsert(self, ids, embeddings, documents, metadatas):
            calls["n"] += 1
            if calls["n"] == after:  # the n-th write is torn: its first 3 rows land, then the process dies
                orig(self, ids=ids[:3], embeddings=embeddings[:3], documents=documents[:3], metadatas=metadatas[:3])
                os.kill(os.getpid(), signal.SIGKILL)
            return orig(self, ids=ids, embeddings=embeddings, documents=documents, metadatas=metadatas)
        Collection.upsert = upsert
    from cli import main
    sys.exit(main(["ingest", sys.argv[3], "--json"]))
    """
)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)


def _state(data: Path, env: dict[str, str]) -> dict[str, object]:
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from cli import build_store
        from settings import Settings
        store = build_store(Settings(), create=False)
        docs = {{d.doc_id: d for d in store.documents()}}
        chunks = list(store.all_chunks())
        per_doc = {{}}
        for cid, _, m in chunks:
            per_doc.setdefault(m.doc_id, []).append(cid)
        print(json.dumps({{"ids": sorted(c[0] for c in chunks), "docs": len(docs),
            "complete": all(len(per_doc.get(d, [])) == r.chunks for d, r in docs.items()),
            "orphans": sorted(set(per_doc) - set(docs))}}))
        """
    )
    out = _run([sys.executable, "-c", code], env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.slow
# Writes: 1 = the first chunk batch, 2 = the first batch of document records, 4 = the last one.
@pytest.mark.parametrize(("point", "after"), [("embedding", 1), ("writes", 1), ("writes", 2), ("writes", 4)])
def test_sigkill_midway_then_rerun_equals_clean_ingest(tmp_path: Path, point: str, after: int) -> None:
    corpus = _corpus(tmp_path)
    env = {
        **os.environ,
        "RAGQA_EMBEDDINGS": "fake",
        "RAGQA_DATA_DIR": str(tmp_path / "killed"),
        "PYTHONPATH": str(ROOT),
    }
    killed = _run([sys.executable, "-c", KILLER.format(root=str(ROOT)), point, str(after), str(corpus)], env)
    assert killed.returncode == -9, killed.stderr[-500:]
    rerun = _run([sys.executable, "-m", "cli", "ingest", str(corpus), "--json"], env)
    assert rerun.returncode == 0, rerun.stderr[-500:]
    after_crash = _state(tmp_path / "killed", env)
    clean_env = {**env, "RAGQA_DATA_DIR": str(tmp_path / "clean")}
    assert _run([sys.executable, "-m", "cli", "ingest", str(corpus), "--json"], clean_env).returncode == 0
    clean = _state(tmp_path / "clean", clean_env)
    assert after_crash["docs"] == clean["docs"] == 150
    assert after_crash["ids"] == clean["ids"], "same chunks, no duplicates, nothing lost"
    assert after_crash["complete"] and not after_crash["orphans"]
