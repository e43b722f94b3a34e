from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import IngestError, load_file
from tests.pdfs import encrypted_pdf, text_pdf

FIXTURES = Path(__file__).parent / "fixtures"


def test_news_header_gives_title_date_and_type() -> None:
    doc = load_file(FIXTURES / "news.txt")[0]
    assert (doc.title, doc.date, doc.doc_type_hint) == ("Example talks end without a deal", "2020-03-04", "news")
    assert doc.text[doc.body_start :].lstrip().startswith("Negotiators met")


def test_a_snippets_leading_date_is_its_date_also_abbreviated(tmp_path: Path) -> None:
    """Search snippets and datelines abbreviate the month ("Oct 20, 2021 ..."); a word that only
    starts like a month is not one."""
    dates = {}
    for name, text in {
        "a.txt": "Oct 20, 2021 ... The company revealed the phone on 19th October.",
        "b.txt": "Sept. 5, 2019 ... Results were announced.",
        "c.txt": "The club said on March 3, 2017 that it had a new coach.",
        "d.txt": "Mayor 3, 2019 votes were counted. Decimal 4, 2020 is not a date either.",
    }.items():
        (tmp_path / name).write_text(text)
        dates[name] = load_file(tmp_path / name)[0].date
    assert dates == {"a.txt": "2021-10-20", "b.txt": "2019-09-05", "c.txt": "2017-03-03", "d.txt": ""}


def test_markdown_title_and_statute_title() -> None:
    assert load_file(FIXTURES / "treaty.md")[0].title == "Treaty on Example Matters"
    assert load_file(FIXTURES / "statute.md")[0].title == "99 U.S.C. § 1234 — Widget reports"


def test_html_is_text_with_headings_and_no_script(tmp_path: Path) -> None:
    page = tmp_path / "a.html"
    page.write_text(
        "<html><head><title>T</title><meta property='article:published_time' content='2021-05-06T10:00'>"
        "<script>alert('x')</script></head><body><h1>Big news</h1><p>First para.</p><p>Second para.</p></body></html>"
    )
    doc = load_file(page)[0]
    assert doc.title == "Big news" and doc.date == "2021-05-06"
    assert "# Big news" in doc.text and "Second para." in doc.text and "alert" not in doc.text


def test_pdf_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "t.pdf"
    path.write_bytes(text_pdf("Article 1 The Parties agree"))
    assert "Parties agree" in load_file(path)[0].text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n ", "empty file"),
        ("binary.txt", b"\x00\x01\x02binary\x00" * 50, "binary data"),
        ("fake.pdf", b"this is not a pdf at all", "damaged or truncated PDF"),
        ("cut.pdf", text_pdf("hello world")[:120], "damaged or truncated PDF"),
        ("locked.pdf", encrypted_pdf(), "encrypted PDF"),
        ("broken.json", b'{"title": "x", "text": ', "broken JSON at line 1"),
        ("norecords.jsonl", b'{"title": "only a title"}\n', "no usable records"),
        ("image.png", b"\x89PNG....", "unsupported file type"),
    ],
)
def test_bad_inputs_say_what_is_wrong(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        load_file(path)


def test_unreadable_path_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    with pytest.raises(IngestError, match="cannot read"):
        load_file(tmp_path / "dangling.txt")


def test_latin1_and_utf16_are_decoded(tmp_path: Path) -> None:
    (tmp_path / "l1.txt").write_bytes("Délégation française à Genève".encode("latin-1"))
    (tmp_path / "u16.txt").write_bytes("Treaty text in UTF-16".encode("utf-16"))
    latin = load_file(tmp_path / "l1.txt")[0]
    assert "Délégation" in latin.text and "Windows-1252" in latin.warnings[0]
    assert load_file(tmp_path / "u16.txt")[0].text == "Treaty text in UTF-16"


def test_jsonl_feed_keeps_good_records_and_reports_bad_lines(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"title": "A", "date": "2020-01-02", "text": "Alpha body.", "url": "http://x/a"})
        + "\n{broken\n"
        + json.dumps({"headline": "B", "published": "March 3, 2021", "content": "Beta body."})
        + "\n"
    )
    docs = load_file(feed)
    assert [(d.title, d.date) for d in docs] == [("A", "2020-01-02"), ("B", "2021-03-03")]
    assert docs[0].key.endswith("#http://x/a") and any("line 2" in w for w in docs[0].warnings)
