"""Settings of ingest."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestConfig(BaseSettings):
    """How files become chunks (env: ``RAGQA_*``)."""

    model_config = SettingsConfigDict(env_prefix="RAGQA_", env_file=".env", extra="ignore")

    chunk_size: int = Field(800, description="Target chunk size in characters (measured on the dev set, see README).")
    max_file_mb: float = Field(
        20.0, description="Files larger than this are refused (a 50 MB one-line dump is not a document)."
    )
    lock_timeout: float = Field(600.0, description="Seconds to wait for another ingest on the same data dir.")
