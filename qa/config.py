"""Settings of retrieval and answering."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Backend = Literal["extractive", "local", "openai"]


class QAConfig(BaseSettings):
    """Retrieval, answer backends and verification (env: ``RAGQA_*``)."""

    model_config = SettingsConfigDict(env_prefix="RAGQA_", env_file=".env", extra="ignore")

    llm: Backend = Field(
        "extractive", description="Answer backend: extractive (no LLM), local (Gemma 3 270M via llama.cpp) or openai."
    )
    k: int = Field(6, description="Passages given to the answer step.")
    candidates: int = Field(40, description="Candidates fetched from each retriever (dense, BM25) before fusion.")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(1.0, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(1.0, description="Weight of the BM25 ranking in fusion.")
    per_source: int = Field(3, description="At most this many of the top-k passages from one document (diversity).")
    date_boost: float = Field(
        0.5, description="Fusion-score bonus factor for documents from a year the question names."
    )
    sentences: int = Field(
        16, description="Candidate sentences scored with the dense model per question part (latency vs. recall)."
    )
    verify: bool = Field(
        True, description="Check generated answers against their cited passages (turn off only to measure it)."
    )
    abstain_threshold: float = Field(
        0.5, description="Minimum answer-support score; below it the bot says the documents don't say."
    )
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (vLLM, Ollama, llama.cpp)."
    )
    openai_model: str = Field("gemma-3-270m", description="Model name sent to the OpenAI-compatible server.")
    openai_api_key: SecretStr | None = Field(
        None, description="API key for the OpenAI-compatible server (never logged)."
    )
    llm_timeout: float = Field(
        30.0, description="Seconds before an LLM call is abandoned and the extractive answer is used."
    )
    llm_threads: int = Field(2, description="CPU threads for the local llama.cpp model.")
    max_tokens: int = Field(64, description="Token limit of a generated answer.")
