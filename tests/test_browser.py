"""The chat in a real browser (Debian's Chromium driven by Playwright) against a real
`ragqa serve` over the shared corpus, plus the `/ask` API through gradio_client."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT, free_port, open_page, wait_until_up

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(browser, server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from open_page(browser, 1400, 950, server)


def _ask(page, question: str, expect: str | re.Pattern[str]) -> None:  # type: ignore[no-untyped-def]
    box = page.locator("#question textarea")
    box.fill(question)
    page.locator("#ask").click()
    try:
        found = page.locator(".message-wrap, [role=log]").get_by_text(expect, exact=False)
        found.last.wait_for(timeout=90_000)
    except Exception:
        name = "".join(ch if ch.isalnum() else "-" for ch in question)[:40]
        page.screenshot(path=str(ARTIFACTS / f"failed-{name}.png"), full_page=True)
        raise


def test_chat_answers_with_citations_followups_and_refusals(page) -> None:  # type: ignore[no-untyped-def]
    # The empty chat offers example questions; clicking one asks it.
    page.get_by_text("When was the US exit date from the INF treaty?").first.click()
    page.locator(".message-wrap, [role=log]").get_by_text("February 2", exact=False).last.wait_for(timeout=90_000)
    sources = page.locator("#sources")
    sources.get_by_text("2019-01-16-lavrov-inf.txt").first.wait_for(timeout=30_000)
    assert sources.locator("mark").count() >= 1, "the supporting quote is highlighted"
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"), full_page=True)

    _ask(page, "and who was Russia's top negotiator at those talks?", "Ryabkov")
    searched = page.locator("#searched").inner_text()
    assert "Searched for" in searched and "2019-01-16-lavrov-inf.txt" in searched  # in the last answer's source

    _ask(page, "Which US president signed the INF Treaty?", "documents don't say")
    page.locator("#sources").get_by_text("Closest passages").wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "chat-refusal.png"), full_page=True)
    assert "{" not in page.locator("#sources").inner_text()[:200], "no raw JSON on the page"


def test_uploaded_html_shows_as_text_and_never_runs(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil = tmp_path / "zebra accord.txt"
    evil.write_text(
        "# The Zebra Accord <script>window.__pwned = 1</script>\n\n"
        'The Zebra Accord was signed in Lisbon on May 5, 2020 <img src=x onerror="window.__pwned = 2"> by the two ministers.\n'
    )
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(evil))
    page.locator("#ingest").click()
    page.locator("#upload-log").get_by_text("ingested").wait_for(timeout=90_000)
    page.locator("#documents").get_by_text("<script>", exact=False).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "documents-upload.png"), full_page=True)
    page.get_by_role("tab", name="Chat").click()
    # The point here is the hostile HTML, not the small model's reading: answered or refused, the
    # passage is shown (cited or closest) as text.
    _ask(page, "Where was the Zebra Accord signed?", re.compile("Lisbon|don't say"))
    if "Lisbon" in page.locator("#chat").inner_text():  # cited: the card shows the tag as text
        try:
            page.locator("#sources").get_by_text("onerror", exact=False).first.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failed-hostile-sources.png"), full_page=True)
            raise
    assert page.evaluate("window.__pwned") is None, "document HTML was executed"
    page.screenshot(path=str(ARTIFACTS / "chat-hostile-upload.png"), full_page=True)


def test_ask_api_through_gradio_client(server: str) -> None:
    from gradio_client import Client

    result = Client(server, verbose=False).predict("When was the US exit date from the INF treaty?", api_name="/ask")
    assert set(result) >= {
        "question",
        "rewritten_question",
        "answer",
        "abstained",
        "backend",
        "citations",
        "timings_ms",
    }
    assert "February 2" in result["answer"] and not result["abstained"]
    assert result["citations"][0]["source"] == "2019-01-16-lavrov-inf.txt"
    assert {"n", "source", "title", "date", "section", "quote", "start", "end", "score"} <= set(result["citations"][0])


def test_load_twenty_concurrent_clients(server: str) -> None:
    """20 gradio_client clients asking dev-set questions for 60 s: no errors, every answer well-formed."""
    import json

    from bench import load_test
    from eval import load_questions
    from tests.conftest import DEV_SET

    result = load_test(server, [q.question for q in load_questions(DEV_SET)[0]], clients=20, seconds=60)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(result, indent=2))
    assert result["errors"] == 0, result["error_samples"]
    assert result["answers"] >= 20


def test_auth_protects_the_ui_and_the_api(tmp_path: Path) -> None:
    from gradio_client import Client

    from tests.conftest import FIXTURES

    port = free_port()
    env = {**os.environ, "RAGQA_DATA_DIR": str(tmp_path / "d"), "RAGQA_EMBEDDINGS": "fake"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--docs", str(FIXTURES), "--port", str(port), "--auth", "ana:s3cret"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, 240)
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do, the point is that it is refused
            Client(url, verbose=False).predict("When will the talks resume?", api_name="/ask")
        with pytest.raises(Exception):  # noqa: B017
            Client(url, auth=("ana", "wrong"), verbose=False)
        result = Client(url, auth=("ana", "s3cret"), verbose=False).predict(
            "When will the talks resume?", api_name="/ask"
        )
        assert "April 6, 2020" in result["answer"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
