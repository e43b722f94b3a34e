"""The textbook LangChain pipeline, as the baseline ragqa is measured against:
RecursiveCharacterTextSplitter(1000, 200) -> the same embedding model -> Chroma.from_documents
-> dense top-4 -> one "stuff" prompt to the same local model as ragqa's reader."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import GenerationChunk

import prompts
from vectorstore import ChunkStore, Embedder


def baseline_llm(settings: Any, store: ChunkStore) -> Any:
    """The textbook chain's LLM: ragqa's configured local model, as a LangChain LLM."""
    from qa.generators import LocalGenerator

    return ChatLLM(generator=LocalGenerator(settings.qa, store.config.models_dir), max_tokens=128)


class ChatLLM(LLM):
    """A Generator as a LangChain LLM (each prompt is one user turn): the textbook baseline's
    `prompt | llm | parser` chain runs on the same model as ragqa."""

    generator: Any
    max_tokens: int = 128

    @property
    def _llm_type(self) -> str:
        return f"ragqa-{self.generator.name}"

    def _call(
        self, prompt: str, stop: list[str] | None = None, run_manager: CallbackManagerForLLMRun | None = None, **kw: Any
    ) -> str:
        return "".join(c.text for c in self._stream(prompt, stop, run_manager))

    def _stream(
        self, prompt: str, stop: list[str] | None = None, run_manager: CallbackManagerForLLMRun | None = None, **kw: Any
    ) -> Iterator[GenerationChunk]:
        for text in self.generator.chat([{"role": "user", "content": prompt}], self.max_tokens, stop):
            if run_manager:
                run_manager.on_llm_new_token(text)
            yield GenerationChunk(text=text)


class LangChainEmbeddings(Embeddings):
    """Our embedder behind LangChain's Embeddings interface."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text])[0].tolist()


class NaivePipeline:
    def __init__(self, store: ChunkStore, workdir: Path, llm: Any | None, embeddings: Embeddings | None = None) -> None:
        self.store = store
        self.embeddings = embeddings or LangChainEmbeddings(store.embedder)
        self.workdir = workdir
        self.llm = llm
        self.db: Any = None
        self.ingest_seconds = 0.0
        self.chunks = 0
        self.chars = 0

    def build(self, docs: list[tuple[str, str]] | None = None) -> None:
        """Split and index (file name, text) pairs, by default every document in the store."""
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        if docs is None:
            docs = [(d.file_name, d.text) for d in self.store.documents(with_text=True)]
        shutil.rmtree(self.workdir, ignore_errors=True)
        started = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        chunks = splitter.split_documents(
            [Document(page_content=text, metadata={"source": name}) for name, text in docs]
        )
        self.db = Chroma.from_documents(
            chunks,
            self.embeddings,
            persist_directory=str(self.workdir),
            collection_name="naive",
        )
        self.ingest_seconds = time.perf_counter() - started
        self.chunks = len(chunks)
        self.chars = sum(len(t) for _, t in docs)

    def ask(self, question: str) -> dict[str, Any]:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import PromptTemplate

        t0 = time.perf_counter()
        hits = self.db.similarity_search(question, k=4)
        t1 = time.perf_counter()
        answer = ""
        if self.llm is not None:
            chain = PromptTemplate.from_template(prompts.load("naive_stuff")) | self.llm | StrOutputParser()
            answer = str(
                chain.invoke({"context": "\n\n".join(h.page_content for h in hits), "question": question})
            ).strip()
        t2 = time.perf_counter()
        sources = [h.metadata["source"] for h in hits]
        return {
            "answer": answer,
            "abstained": None,
            # A textbook app shows its retrieved documents as the sources.
            "citations": [{"n": i + 1, "source": s} for i, s in enumerate(dict.fromkeys(sources))],
            "retrieved": [{"source": s, "rank": i + 1} for i, s in enumerate(sources)],
            "timings_ms": {"retrieve": (t1 - t0) * 1000, "generate": (t2 - t1) * 1000, "total": (t2 - t0) * 1000},
        }
