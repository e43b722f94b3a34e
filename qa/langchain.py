"""LangChain interop: ragqa's hybrid retrieval as a `BaseRetriever` and its whole answer path
(rewrite, read, ground, cite, abstain) as a `Runnable`, so a LangChain application composes
them in LCEL like any other retriever or chain.

    from qa.langchain import RagqaRetriever, answer_runnable
    docs = RagqaRetriever(retriever=answerer.retriever).invoke("INF exit date")
    answer = answer_runnable(answerer).invoke("When did the US exit the INF treaty?")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import ConfigDict

from .answerer import Answerer
from .retrieval import Retriever
from .types import Answer, Filters, Passage


def to_document(passage: Passage) -> Document:
    """A passage as a LangChain Document; the metadata says where the text stands."""
    return Document(
        id=passage.id,
        page_content=passage.text,
        metadata={
            "source": passage.source,
            "file_name": passage.file_name,
            "title": passage.title,
            "date": passage.date,
            "doc_type": passage.doc_type,
            "section": passage.section,
            "start": passage.start,
            "end": passage.end,
            "score": passage.score,
        },
    )


class RagqaRetriever(BaseRetriever):
    """ragqa's hybrid passages (dense + BM25, fused, diversified) for a query."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 8
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(p) for p in self.retriever.retrieve(query, k=self.k, filters=self.filters)]


def answer_runnable(answerer: Answerer, backend: str | None = None) -> Runnable[Any, Answer]:
    """A Runnable from a question (a string, or {"question", "history", "filters", "last_cited"}) to
    ragqa's Answer; "last_cited": the files the last answer cited, where a follow-up is looked for first."""

    def answer(request: str | dict[str, Any]) -> Answer:
        if isinstance(request, str):
            return answerer.ask(request, backend=backend)
        history: Sequence[tuple[str, str]] = request.get("history", ())
        return answerer.ask(
            request["question"], history, request.get("filters"), backend, last_cited=request.get("last_cited", ())
        )

    return RunnableLambda(answer, name="ragqa_answer")
