"""Settings of the vector store and the embedding model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StoreConfig(BaseSettings):
    """Where chunks live and how they are embedded (env: ``RAGQA_*``)."""

    model_config = SettingsConfigDict(env_prefix="RAGQA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".ragqa"), description="Folder for the embedded store, locks, feedback and uploads.")
    collection: str = Field("ragqa", description="Chroma collection name.")
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset means the embedded store in the data dir."
    )
    chroma_port: int = Field(8000, description="Chroma server port.")
    embeddings: Literal["local", "openai", "fake"] = Field(
        "local",
        description="Embedding backend: the bundled MiniLM, an OpenAI-compatible /v1/embeddings server, or a hash fake for tests.",
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="Embedding model name (for `openai`, the server's model name)."
    )
    embedding_precision: Literal["fp32", "int8"] = Field(
        "int8",
        description="Bundled MiniLM quantized to int8 (1.5x the fp32 speed, same dev-set retrieval recall) or fp32 (sentence-transformers' exact vectors); a change needs `ingest --rebuild`.",
    )
    model_cache: Path | None = Field(
        None, description="Where the ONNX export of the bundled model is kept (default: `models/` in the data dir)."
    )
    embedding_batch_size: int = Field(
        8, description="Texts per fp32 embedding batch (8 measured fastest on 2 cores); int8 embeds one text at a time."
    )
    embeddings_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible embeddings server (RAGQA_EMBEDDINGS=openai)."
    )
    embeddings_api_key: SecretStr | None = Field(
        None,
        # One key usually serves both the chat and the embeddings server.
        validation_alias=AliasChoices("RAGQA_EMBEDDINGS_API_KEY", "RAGQA_OPENAI_API_KEY"),
        description="API key of the embeddings server (falls back to RAGQA_OPENAI_API_KEY; never logged).",
    )

    hnsw_ef_search: int = Field(
        1000,
        ge=1,
        description="Breadth of Chroma's HNSW search (its ef_search). Chroma's 100 gave 4-6 of 132 questions an inexact top-40 on the shared corpus, a different one in each process; 1000 is exact there.",
    )
    lexical_dir: Path | None = Field(
        None,
        description="Folder of the saved BM25 index (shared storage when several replicas use one Chroma server); default `lexical/` in the data dir.",
    )

    @property
    def lexical_path(self) -> Path:
        """Where this collection's lexical index is saved."""
        return (self.lexical_dir or self.data_dir / "lexical") / self.collection

    @property
    def models_dir(self) -> Path:
        return self.model_cache or self.data_dir / "models"
