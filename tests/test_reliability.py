"""Faults and bad input: specific one-line messages, nothing lost, the store stays consistent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli import build_store, main
from ingest import ingest_lock
from tests.conftest import FIXTURES, ROOT
from tests.pdfs import encrypted_pdf, text_pdf


def _blank_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _bad_corpus(root: Path) -> dict[str, str | None]:
    """Files of every kind of trouble, with the message each must get (None: ingested)."""
    root.mkdir(parents=True)
    files: dict[str, bytes] = {
        "empty.txt": b"",
        "whitespace.md": b"   \n\n\t\n",
        "binary.txt": bytes(range(256)) * 40,
        "random.pdf": os.urandom(2048),
        "truncated.pdf": text_pdf("cut short")[:150],
        "encrypted.pdf": encrypted_pdf(),
        "scanned.pdf": _blank_pdf(),
        "broken.json": b'{"title": "x", "text": "y"',
        "objects.json": b"[1, 2, 3]",
        "script-only.html": b"<html><script>alert(1)</script></html>",
        "huge-one-line.txt": b"x" * (50 * 1024 * 1024),
        "notes.docx": b"PK\x03\x04 not really",
        # handled (ingested, maybe with a warning)
        "latin1.txt": "Délégation française: the treaty was signed in Genève.".encode("latin-1"),
        "utf16.txt": "A UTF-16 note about the accord.".encode("utf-16"),
        "nested.html": ("<div>" * 5000 + "Deeply nested text about a treaty." + "</div>" * 5000).encode(),
        "feed.jsonl": (json.dumps({"title": "Good", "text": "A good record."}) + "\n{oops\n").encode(),
        "only headings.md": b"# Title\n\n## Part one\n\n### Article 1\n",
        "name with spaces.txt": b"Spaces in the name are fine.",
        "unicode-名前-é.txt": b"Unicode file names are fine.",
        "newline\nname.txt": b"A newline in a file name is odd but fine.",
        "dup-a.txt": b"The same content under two names.",
        "dup-b.txt": b"The same content under two names.",
        "treaty.md": (FIXTURES / "treaty.md").read_bytes(),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "loop-a.txt").symlink_to(root / "loop-b.txt")
    (root / "loop-b.txt").symlink_to(root / "loop-a.txt")
    (root / "sub").mkdir()
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)  # a directory loop
    locked = root / "locked.txt"
    locked.write_text("permissions")
    locked.chmod(0)
    return {
        "empty.txt": "empty file",
        "whitespace.md": "empty file",
        "binary.txt": "binary data",
        "random.pdf": "PDF",
        "truncated.pdf": "damaged or truncated PDF",
        "encrypted.pdf": "encrypted PDF",
        "scanned.pdf": "no text layer",
        "broken.json": "broken JSON at line 1",
        "objects.json": "no usable records",
        "script-only.html": "no visible text",
        "huge-one-line.txt": "over the 20 MB limit",
        "loop-a.txt": "cannot read",
        "loop-b.txt": "cannot read",
        "latin1.txt": None,
        "utf16.txt": None,
        "nested.html": None,
        "feed.jsonl": None,
        "only headings.md": None,
        "name with spaces.txt": None,
        "unicode-名前-é.txt": None,
        "newline\nname.txt": None,
        "dup-a.txt": None,
        "dup-b.txt": None,
        "treaty.md": None,
    }


def test_bad_input_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_EMBEDDINGS", "fake")
    expected = _bad_corpus(tmp_path / "corpus")
    assert main(["ingest", str(tmp_path / "corpus"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    failed = {Path(f["path"]).name: f["error"] for f in report["files_failed"]}
    for name, message in expected.items():
        if message is None:
            assert name not in failed, f"{name} should ingest: {failed.get(name)}"
        else:
            assert message in failed.get(name, ""), f"{name}: got {failed.get(name)!r}"
    for error in failed.values():
        assert "\n" not in error and len(error) < 200
    assert [Path(f["path"]).name for f in report["files_skipped"]] == ["notes.docx"]
    assert "locked.txt" in failed or os.geteuid() == 0  # root reads anything; others get 'permission denied'
    good = [n for n, m in expected.items() if m is None]
    store = build_store(__import__("settings").Settings(), create=False)
    docs = {d.file_name: d for d in store.documents()}
    assert set(good) <= set(docs)
    assert any("Windows-1252" in w["error"] for w in report["warnings"])
    per_doc: dict[str, int] = {}
    for _, text, meta in store.all_chunks():
        assert text.strip()
        per_doc[meta.doc_id] = per_doc.get(meta.doc_id, 0) + 1
    assert all(per_doc.get(d.doc_id) == d.chunks for d in docs.values()), "every document complete"


def test_second_ingest_waits_for_the_lock_or_refuses(tmp_path: Path) -> None:
    data = tmp_path / "data"
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nSome text about a treaty.\n")
    env = {**os.environ, "RAGQA_EMBEDDINGS": "fake", "RAGQA_DATA_DIR": str(data), "RAGQA_LOCK_TIMEOUT": "1"}
    with ingest_lock(data, 1):
        refused = subprocess.run(
            [sys.executable, "-m", "cli", "ingest", str(corpus)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    last = refused.stderr.strip().splitlines()[-1]
    assert (
        refused.returncode == 2
        and last.startswith("ragqa: error: another ingest holds")
        and "RAGQA_LOCK_TIMEOUT" in last
    )
    release = threading.Timer(2.0, lambda: None)
    with ingest_lock(data, 1):
        env["RAGQA_LOCK_TIMEOUT"] = "60"
        waiting = subprocess.Popen(
            [sys.executable, "-m", "cli", "ingest", str(corpus), "--json"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(2.0)
        assert waiting.poll() is None, "it waits while the lock is held"
    release.cancel()
    out, _ = waiting.communicate(timeout=120)
    assert waiting.returncode == 0 and json.loads(out)["files_ingested"] == 1


def test_corrupted_data_dir_is_one_line_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGQA_EMBEDDINGS", "fake")
    data = tmp_path / "data"
    (data / "chroma").mkdir(parents=True)
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    assert main(["stats", "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(data / "chroma") in err and "--rebuild" in err


def test_upload_names_are_sanitized_and_traversal_refused() -> None:
    from app import safe_upload_name
    from vectorstore import RagqaError

    assert safe_upload_name("report 2020.pdf") == "report 2020.pdf"
    assert safe_upload_name("a<b>|c.txt") == "a_b_c.txt"
    for bad in ("../../etc/passwd", "/etc/passwd", "..\\..\\win.ini", ".."):
        with pytest.raises(RagqaError):
            safe_upload_name(bad)


def test_binding_beyond_loopback_without_auth_warns() -> None:
    import app
    from vectorstore import RagqaError

    assert "without --auth" in app.bind_warning("0.0.0.0", None)
    assert app.bind_warning("0.0.0.0", app.parse_auth("u:p")) == ""
    assert app.bind_warning("127.0.0.1", None) == ""
    with pytest.raises(RagqaError):
        app.parse_auth("no-colon")


def test_api_key_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_OPENAI_API_KEY", "sk-very-secret-123")
    from settings import Settings

    s = Settings()
    assert s.qa.openai_api_key is not None and s.qa.openai_api_key.get_secret_value() == "sk-very-secret-123"
    assert "sk-very-secret" not in repr(s) and "sk-very-secret" not in s.model_dump_json()


words = st.text(alphabet="abcdefgh XYZ 0123456789,.", min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(words, st.lists(words, min_size=1, max_size=5), st.lists(st.integers(min_value=-2, max_value=8), max_size=3))
def test_grounding_never_cites_a_passage_without_the_answers_facts(
    answer: str, texts: list[str], preferred: list[int]
) -> None:
    from qa.grounding import fact_tokens, ground
    from qa.text import tokens
    from qa.types import Passage

    passages = [
        Passage(
            id=str(i),
            text=t,
            source="s",
            file_name="f",
            title="",
            doc_type="other",
            section="s",
            start=0,
            end=len(t),
            score=1,
        )
        for i, t in enumerate(texts)
    ]
    g = ground(answer, "what?", passages, preferred)
    if g is not None:
        assert 0 <= g.passage < len(passages)
        need = set(fact_tokens(answer, "what?"))
        assert need and need <= set(tokens(passages[g.passage].text))  # every fact stands in the cited passage
        assert g.quote == passages[g.passage].text[g.start : g.end]


def test_feedback_and_corrections_are_eval_items(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from app import ChatApp
    from eval import load_questions

    settings = SimpleNamespace(store=SimpleNamespace(data_dir=tmp_path))
    chat = ChatApp(answerer=None, settings=settings)  # type: ignore[arg-type]
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    answers = [
        {
            "question": "and when?",
            "rewritten_question": "When did the US exit the INF Treaty?",
            "answer": "February 2, 2019 [1] — “Americans confirmed the exit from February 2.”",
            "abstained": False,
            "backend": "local",
            "citations": [{"source": "x.txt", "quote": "Americans confirmed the exit from February 2."}],
        }
    ]
    assert chat.feedback(SimpleNamespace(index=1, liked=True), history, answers) == -1  # saved at once
    turn = chat.feedback(SimpleNamespace(index=[1, 0], liked=False), history, answers)
    assert turn == 0  # a thumbs-down asks for the right answer first
    assert chat.correct(turn, "  ", answers).startswith("Type the right answer")
    assert chat.correct(turn, "August 2, 2019", answers).startswith("Saved")
    questions, errors = load_questions(tmp_path / "feedback.jsonl")
    assert not errors and len(questions) == 2
    up, down = questions
    assert up.question == "When did the US exit the INF Treaty?" and up.answer == "February 2, 2019"
    assert up.sources == ["x.txt"] and up.evidence.startswith("Americans confirmed")
    assert down.answer == "August 2, 2019" and down.sources == [] and down.type == ""


class _FakeLLMServer:
    """A loopback HTTP server that answers /chat/completions slowly or with garbage."""

    def __init__(self, mode: str) -> None:
        import http.server

        outer = self
        self.mode = mode

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.mode == "slow":
                    time.sleep(30)
                    return
                body = (
                    b"<html>definitely not json"
                    if outer.mode == "garbage"
                    else json.dumps(
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "created": 0,
                            "model": "m",
                            "choices": [
                                {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}
                            ],
                        }
                    ).encode()
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("mode", ["slow", "garbage", "empty"])
def test_openai_backend_slow_garbage_or_empty_falls_back_in_time(mode: str, fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ingest import Ingestor
    from qa import Answerer

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "news.txt").write_text((FIXTURES / "news.txt").read_text())
    store = build_store(fake_settings)
    Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run([corpus])
    server = _FakeLLMServer(mode)
    try:
        cfg = fake_settings.qa.model_copy(update={"openai_base_url": server.url, "llm_timeout": 2.0})
        started = time.monotonic()
        a = Answerer(store, cfg).ask("When will the talks resume?", backend="openai")
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert a.fallback and a.notice and "April 6, 2020" in a.answer
    assert elapsed < 20, "bounded by RAGQA_LLM_TIMEOUT, not the server"


def test_chat_keeps_answering_while_an_upload_ingests(fake_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from app import ChatApp
    from ingest import Ingestor
    from qa import Answerer

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "treaty.md").write_text((FIXTURES / "treaty.md").read_text())
    store = build_store(fake_settings)
    Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run([corpus])
    chat = ChatApp(Answerer(store, fake_settings.qa), fake_settings)
    uploads = []
    for i in range(60):
        f = tmp_path / f"up{i}.md"
        f.write_text(
            f"# Upload {i}\n\n" + "\n\n".join(f"Paragraph {j} of upload {i} about widgets." for j in range(30))
        )
        uploads.append(SimpleNamespace(name=str(f), orig_name=f.name))
    result: dict[str, str] = {}
    worker = threading.Thread(target=lambda: result.update(log=chat.upload(uploads)[0]))
    worker.start()
    answered = 0
    while worker.is_alive():
        r = chat.ask_api("How much notice must a Party give to withdraw from the Treaty on Example Matters?")
        assert "ninety" in r["answer"]
        answered += 1
    worker.join()
    assert answered >= 1 and result["log"].count("✓") == 60
    assert "Upload 59" in {d.title for d in store.documents()} and store.count() > 60
