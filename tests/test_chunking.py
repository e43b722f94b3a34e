from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import chunk_document, infer_doc_type, load_file

FIXTURES = Path(__file__).parent / "fixtures"


def _chunks(name: str, size: int = 800):  # type: ignore[no-untyped-def]
    doc = load_file(FIXTURES / name)[0]
    kind = infer_doc_type(doc.doc_type_hint, doc.source, doc.text)
    return doc, kind, chunk_document(doc.text, doc.title, kind, size, doc.body_start)


def test_treaty_chunks_follow_articles_and_keep_headings() -> None:
    doc, kind, chunks = _chunks("treaty.md", size=120)
    assert kind == "treaty"
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        # never two Articles in one chunk
        assert c.text.count("### Article") <= 1
    sections = [c.section for c in chunks]
    assert "Treaty on Example Matters › Preamble" in sections
    assert "Treaty on Example Matters › Article II — Duration and withdrawal › 2." in sections
    assert any(
        s.startswith("Treaty on Example Matters › Article II — Duration and withdrawal › SECTION I") for s in sections
    )
    first_of_article = next(c for c in chunks if "Article II" in c.section)
    assert first_of_article.text.startswith("### Article  II") and "unlimited duration" in first_of_article.text


def test_statute_chunks_follow_subsections() -> None:
    doc, kind, chunks = _chunks("statute.md", size=100)
    assert kind == "law"
    paths = [c.section for c in chunks]
    assert paths[0].startswith("99 U.S.C. § 1234 — Widget reports › § 1234 › (a) Findings")
    assert any("(b) Report" in p for p in paths)
    assert all("CHAPTER" not in p for p in paths)


def test_news_paragraph_labels_and_header_excluded() -> None:
    doc, kind, chunks = _chunks("news.txt", size=60)
    assert kind == "news"
    assert [c.section.split(" › ")[-1] for c in chunks] == ["¶ 1", "¶ 2", "¶ 3"]
    assert all("date 2020" not in c.text for c in chunks)


def test_long_paragraph_is_split_at_sentences() -> None:
    text = "# T\n\n" + " ".join(f"Sentence number {i} is here." for i in range(200))
    chunks = chunk_document(text, "T", "other", 300)
    assert len(chunks) > 5 and all(len(c.text) <= 450 for c in chunks)
    assert all(c.text.rstrip().endswith(".") for c in chunks[:-1])


words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=30)
lines = st.one_of(
    words, st.builds(lambda w: f"### Article {w}", words), st.builds(lambda w: f"1. {w}", words), st.just("")
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(lines, max_size=40),
    st.integers(min_value=20, max_value=400),
    st.sampled_from(["treaty", "law", "news", "other"]),
)
def test_chunks_cover_every_character_with_exact_offsets(body: list[str], size: int, kind: str) -> None:
    text = "\n".join(body)
    chunks = chunk_document(text, "Doc", kind, size)
    covered = [False] * len(text)
    for c in chunks:
        assert c.text.strip(), "no empty chunk"
        assert 0 <= c.start < c.end <= len(text) and text[c.start : c.end] == c.text
        for i in range(c.start, c.end):
            covered[i] = True
    # Every non-blank character lands in some chunk (markdown heading lines may stand alone only as part of one).
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, (text, [text[i] for i in missing][:10])
