"""The vector store: Chroma collections, embeddings and the chunk metadata schema."""

from .config import StoreConfig
from .embeddings import Embedder, FakeEmbedder, MiniLMEmbedder, OpenAIEmbedder, make_embedder, vocabulary
from .errors import EmbeddingError, RagqaError, StoreError
from .schema import DOC_TYPES, ChunkMeta, DocRecord, date_num
from .store import ChunkStore, DocWrite, Hit, chunk_id

__all__ = [
    "DOC_TYPES",
    "ChunkMeta",
    "ChunkStore",
    "DocRecord",
    "DocWrite",
    "Embedder",
    "EmbeddingError",
    "FakeEmbedder",
    "Hit",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "RagqaError",
    "StoreConfig",
    "StoreError",
    "chunk_id",
    "date_num",
    "make_embedder",
    "vocabulary",
]
