"""What a demanding user does in the chat (issue: input, streaming, Stop, documents, backends,
filters, source cards, phone layout, rewritten questions, corrections), in Debian's Chromium
against a real `ragqa serve` over the shared corpus with the local model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, Served, open_page

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LOG = ".message-wrap, [role=log]"


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from open_page(browser, 1400, 1000, server)


@pytest.fixture
def phone(browser, server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from open_page(browser, 420, 900, server)


def _ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def _wait_streaming(page) -> None:  # type: ignore[no-untyped-def]
    """Until the model's words are arriving (the cursor mark is shown; polled often, a short
    answer streams for about a second)."""
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('▌')", polling=50, timeout=90_000)


def _wait_answer(page, expect: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(LOG).get_by_text(expect, exact=False).last.wait_for(timeout=120_000)
    page.wait_for_function("() => !document.body.innerText.includes('▌')", timeout=60_000)


def test_text_typed_while_an_answer_streams_is_kept(page) -> None:  # type: ignore[no-untyped-def]
    box = page.locator("#question textarea")
    question = "How many nuclear warheads could China have by 2035, according to Jake Sullivan?"
    _ask(page, question)
    page.locator(LOG).get_by_text(question).first.wait_for(timeout=15_000)  # the page took it
    box.press_sequentially("what did", delay=0)
    # A second Enter while the answer runs: refused in words, and the text stays.
    box.press("Enter")
    page.locator("#status").get_by_text("still being written", exact=False).wait_for(timeout=15_000)
    _wait_streaming(page)
    box.press_sequentially(" the Geneva talks", delay=0)  # while the model's words arrive
    _wait_answer(page, "1,500")
    box.press_sequentially(" center on?", delay=10)
    assert box.input_value() == "what did the Geneva talks center on?"
    box.press("Enter")  # now it is taken
    _wait_answer(page, "9M729")
    assert box.input_value() == "" and page.locator("#status").inner_text().strip() == ""


def test_stop_cancels_the_answer_and_the_server_stops_generating(page, served: Served) -> None:  # type: ignore[no-untyped-def]
    before = served.log.read_text().count("answer stopped by the user")
    # Stop as soon as the page has taken the question: the model is reading (a short answer
    # streams for under a second, too short to aim a click at).
    question = "Which five countries issued the January 2022 joint statement on preventing nuclear war?"
    _ask(page, question)
    page.locator(LOG).get_by_text(question).first.wait_for(timeout=15_000)
    page.locator("#stop").click()
    page.locator(LOG).get_by_text("Stopped", exact=False).last.wait_for(timeout=15_000)
    # The generator can only be stopped at its next step: after the lock (the fixture's server is shared, and
    # an earlier test's answer may still hold it) and the prompt's evaluation, 10-20 s on a slow 2-core machine.
    deadline = time.monotonic() + 120
    while served.log.read_text().count("answer stopped by the user") == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert served.log.read_text().count("answer stopped by the user") == before + 1, "the server kept generating"
    time.sleep(2)
    assert "Sources:" not in page.locator("#chat").inner_text(), "the stopped answer still arrived"
    # The model is free again: the next question is answered.
    _ask(page, "When did the INF Treaty enter into force?")
    _wait_answer(page, "1988")


def test_a_reload_after_an_upload_lists_the_upload(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "2024-05-01-kestrel-pact.txt"
    doc.write_text(" date 2024-05-01 Kestrel Pact signed\n\nThe Kestrel Pact was signed in Tallinn by two ministers.\n")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.locator("#ingest").click()
    page.locator("#upload-log").get_by_text("ingested").wait_for(timeout=90_000)
    page.reload()
    page.wait_for_selector("#question textarea", timeout=60_000)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#documents").get_by_text("Kestrel Pact signed").wait_for(timeout=30_000)


def test_only_configured_backends_are_offered_with_plain_labels(page) -> None:  # type: ignore[no-untyped-def]
    page.locator("#settings").get_by_text("Answer settings and filters").click()
    page.locator("#backend input").click()
    options = [o.strip().splitlines()[-1].strip() for o in page.get_by_role("option").all_inner_texts()]
    assert options == ["Fast (no LLM)", "Qwen 1.5B, local"], options
    assert "no model server is set up" in page.locator("#backend").inner_text()
    assert "openai" not in page.locator("#settings").inner_text().lower()


def _type_into(field, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type once the field has settled (the accordion's fields mount as it opens, and a value
    typed into the first mount is lost), then leave it."""
    for _ in range(10):
        field.fill(text)
        time.sleep(0.3)
        if field.input_value() == text:
            break
    field.press("Tab")  # leaving the field checks it too


def test_a_bad_date_filter_gets_a_message(page) -> None:  # type: ignore[no-untyped-def]
    page.locator("#settings").get_by_text("Answer settings and filters").click()
    since = page.locator("#since textarea, #since input").first
    _type_into(since, "not a date")
    page.locator("#date-error").get_by_text("is not a date", exact=False).wait_for(timeout=45_000)
    _type_into(since, "2019-01-01")
    page.wait_for_function(
        "() => !document.querySelector('#date-error').innerText.includes('not a date')", timeout=45_000
    )


def test_source_cards_have_no_markdown_marks_and_citations_are_links(page) -> None:  # type: ignore[no-untyped-def]
    _ask(page, "How much advance notice must a State Party give to withdraw from the Treaty on Open Skies?")
    _wait_answer(page, "months")
    cards = page.locator("#sources .src-card")
    cards.first.wait_for(timeout=30_000)
    assert "#" not in page.locator("#sources").inner_text()
    cite = page.locator("#chat a.cite").first
    cite.wait_for(timeout=10_000)
    assert cite.inner_text() == "[1]" and cite.get_attribute("href") == "#src-1"
    assert "underline" in cite.evaluate("e => getComputedStyle(e).textDecorationLine")
    cite.focus()
    assert page.evaluate("document.activeElement.classList.contains('cite')")
    labels = page.eval_on_selector_all("[aria-label]", "els => els.map(e => e.getAttribute('aria-label'))")
    assert not [x for x in labels if "<a" in x or "href=" in x], "raw markup in screen-reader labels"
    # The compact sources strip under the answer names the treaty.
    page.locator(LOG).get_by_text("Sources: [1]", exact=False).last.wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "desktop-answer.png"), full_page=True)


def test_the_rewritten_question_is_readable_and_editable(page) -> None:  # type: ignore[no-untyped-def]
    _ask(page, "When was the US exit date from the INF treaty?")
    _wait_answer(page, "February 2")
    _ask(page, "and who was Russia's top negotiator at those talks?")
    _wait_answer(page, "Ryabkov")
    searched = page.locator("#searched")
    assert "Searched for" in searched.inner_text()
    size = float(searched.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert size >= 14, size
    searched.click()
    box = page.locator("#question textarea")
    page.wait_for_function("() => document.querySelector('#question textarea').value.length > 10")
    assert "negotiator" in box.input_value() and "those talks" not in box.input_value().lower()


def test_each_part_of_a_two_part_question_is_announced_then_replaced_by_the_answer(page) -> None:  # type: ignore[no-untyped-def]
    _ask(page, "cfe treaty signed where; limited in duration?")
    # While the second part is read, the turn says which part it is; the words of part 1 are gone.
    page.locator(LOG).get_by_text("Part 2 of 2", exact=False).wait_for(timeout=120_000)
    page.wait_for_function("() => !document.body.innerText.includes('▌')", timeout=120_000)
    bot = page.locator("#chat .message-wrap .bot, #chat [data-testid=bot]").last
    turn = bot.inner_text()
    assert "Part 1 of 2" not in turn and "Part 2 of 2" not in turn and "[1]" in turn
    # Each part's answer is a paragraph of its own, then the sources.
    paragraphs = [p for p in bot.locator("p").all_inner_texts() if p.strip()]
    assert len(paragraphs) >= 3 and "[1]" in paragraphs[0] and paragraphs[-1].startswith("Sources")
    assert "Sources" not in paragraphs[0] + paragraphs[1]


def test_a_thumbs_down_takes_the_right_answer_as_an_eval_item(page, served: Served) -> None:  # type: ignore[no-untyped-def]
    _ask(page, "Where was the target area for the Minuteman III test launched from Vandenberg in February 2016?")
    _wait_answer(page, "[1]")
    page.locator("#chat button[aria-label='Dislike']").last.click()
    page.locator("#right textarea").fill("Kwajalein Atoll")
    page.locator("#save-correction").click()
    page.locator("#correction-log").get_by_text("Saved", exact=False).wait_for(timeout=10_000)
    rows = [json.loads(x) for x in (served.data_dir / "feedback.jsonl").read_text().splitlines()]
    assert rows[-1]["answer"] == "Kwajalein Atoll" and rows[-1]["feedback"] == "down"
    assert "Minuteman" in rows[-1]["question"]


def test_phone_layout_has_a_full_width_input_and_no_clipped_table(phone) -> None:  # type: ignore[no-untyped-def]
    width = 420
    field, ask = phone.locator("#question").bounding_box(), phone.locator("#ask").bounding_box()
    assert field is not None and ask is not None
    assert field["width"] >= 0.8 * width and ask["y"] >= field["y"] + field["height"] - 1, (field, ask)  # stacked
    assert field["x"] >= 0 and field["x"] + field["width"] <= width + 1
    textarea = phone.locator("#question textarea")
    one_line = textarea.evaluate("e => e.scrollHeight <= e.clientHeight + 2")
    assert one_line, "the placeholder wraps"
    _ask(phone, "When was the US exit date from the INF treaty?")
    _wait_answer(phone, "February 2")
    phone.locator(LOG).get_by_text("Sources: [1]", exact=False).last.wait_for(timeout=10_000)
    phone.screenshot(path=str(ARTIFACTS / "phone-answer.png"), full_page=True)
    phone.get_by_role("tab", name="Documents").click()
    scroller = phone.locator("#documents .doc-scroll")
    scroller.wait_for(timeout=30_000)
    frame = scroller.bounding_box()
    assert frame is not None and frame["x"] >= 0 and frame["x"] + frame["width"] <= width + 1, frame
    # The File column is reachable: the table scrolls inside its frame instead of being cut off.
    reach = scroller.evaluate(
        "e => ({scroll: e.scrollWidth, client: e.clientWidth, table: e.querySelector('table').scrollWidth})"
    )
    assert reach["scroll"] >= reach["table"] and reach["scroll"] > reach["client"], reach
    scroller.evaluate("e => e.scrollLeft = e.scrollWidth")
    last = phone.locator("#documents table tr th").last.bounding_box()
    assert last is not None and last["x"] + last["width"] <= width + 1, last
    phone.screenshot(path=str(ARTIFACTS / "phone-documents.png"), full_page=True)
