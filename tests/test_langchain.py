"""ragqa inside LangChain: the retriever and the answer Runnable composed in LCEL chains built
from LangChain's own parts (real embedded Chroma, fake embeddings, the extractive reader)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from cli import build_store
from ingest import Ingestor
from qa import Answerer
from qa.langchain import RagqaRetriever, answer_runnable
from qa.types import Answer
from tests.conftest import FIXTURES


@pytest.fixture
def answerer(fake_settings, tmp_path: Path) -> Answerer:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("treaty.md", "news.txt"):
        shutil.copy(FIXTURES / name, corpus)
    store = build_store(fake_settings)
    Ingestor(store, fake_settings.ingest, fake_settings.store.data_dir, progress=False).run([corpus])
    return Answerer(store, fake_settings.qa)


def test_the_retriever_feeds_a_prompt_in_an_lcel_chain(answerer: Answerer) -> None:
    retriever = RagqaRetriever(retriever=answerer.retriever, k=2)

    def joined(docs: list[Document]) -> str:
        return "\n\n".join(f"{d.metadata['section']}: {d.page_content}" for d in docs)

    prompt = ChatPromptTemplate.from_messages([("human", "Context:\n{context}\n\nQuestion: {question}")])
    chain = (
        {"context": retriever | joined, "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(lambda value: value.to_string())
    )
    text = chain.invoke("How many days notice must a Party give to withdraw?")
    assert "ninety days in advance" in text and text.rstrip().endswith("withdraw?")
    docs = retriever.invoke("withdraw notice")
    assert len(docs) == 2 and docs[0].metadata["file_name"] == "treaty.md"
    assert {"source", "title", "date", "section"} <= set(docs[0].metadata) and "Article" in docs[0].metadata["section"]
    assert docs[0].id and docs[0].page_content


def test_the_answer_runnable_composes_and_batches(answerer: Answerer) -> None:
    runnable = answer_runnable(answerer)
    chain = RunnableLambda(str.strip) | runnable | RunnableLambda(lambda a: a.citations[0].source) | StrOutputParser()
    assert chain.invoke("  How many days notice must a Party give to withdraw?  ") == "treaty.md"
    answers = runnable.batch(
        ["How many days notice must a Party give to withdraw?", "What is the maximum range of the example missile?"]
    )
    assert all(isinstance(a, Answer) for a in answers)
    assert not answers[0].abstained and "ninety days" in answers[0].answer
    assert answers[1].abstained and not answers[1].citations
    follow = runnable.invoke(
        {"question": "Is it limited in duration?", "history": [("Tell me about the Treaty on Example Matters", "…")]}
    )
    assert "Example Matters" in follow.rewritten_question
