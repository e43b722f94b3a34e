"""Sentence vectors, remembered: follow-ups and related questions read the same passages
again, and both readers (the LLM's context builder and the extractive fast path) score sentences."""

from __future__ import annotations

import numpy as np

from vectorstore import Embedder

CACHE_SIZE = 20_000  # sentence vectors kept (about 30 MB)


class SentenceVectors:
    def __init__(self, embedder: Embedder, size: int = CACHE_SIZE) -> None:
        self.embedder = embedder
        self.size = size
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        """One vector per text (a row each), embedding only the texts not seen before."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vec in zip(missing, self.embedder.embed(missing), strict=True):
                if len(self._vectors) >= self.size:
                    self._vectors.pop(next(iter(self._vectors)))  # oldest first
                self._vectors[text] = vec
        return np.stack([self._vectors[t] for t in texts])
