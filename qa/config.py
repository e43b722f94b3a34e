"""Settings of retrieval and answering."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Backend = Literal["extractive", "local", "openai"]
LocalModel = Literal["qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct"]


class QAConfig(BaseSettings):
    """Retrieval, answer backends and verification (env: ``RAGQA_*``)."""

    model_config = SettingsConfigDict(env_prefix="RAGQA_", env_file=".env", extra="ignore")

    llm: Backend = Field(
        "local",
        description="Answer backend: local (a bundled instruct model via llama.cpp), openai (an OpenAI-compatible server) or extractive (no LLM, fastest).",
    )
    local_model: LocalModel = Field(
        "qwen2.5-coder-1.5b-instruct", description="The bundled instruct model the local backend runs."
    )
    k: int = Field(
        8, description="Passages given to the answer step (the reader packs their best sentences into a word budget)."
    )
    context_words: int = Field(
        300,
        description="Word budget of the passages' sentences the reader is shown (latency grows with it: about 1.3 tokens a word).",
    )
    candidates: int = Field(40, description="Candidates fetched from each retriever (dense, BM25) before fusion.")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(
        1.5,
        description="Weight of the dense ranking in fusion (1.5: BM25 alone over-weighs a keyword the question shares with a distractor).",
    )
    bm25_weight: float = Field(1.0, description="Weight of the BM25 ranking in fusion.")
    per_source: int = Field(
        4, description="At most this many of the top-k passages from one document (diversity; half of k)."
    )
    siblings: int = Field(
        4,
        description="Passages of the top passage's document added beyond k, next best first (its answer paragraph may rank below its others).",
    )
    date_boost: float = Field(
        0.1,
        description="Fusion-score bonus factor for documents from a year the question names (a tie-breaker: 0.5 cost RGB retrieval).",
    )
    year_in_text: bool = Field(
        True, description="The year boost also counts a year the passage's text names (search snippets carry no date)."
    )
    sentences: int = Field(
        16, description="Candidate sentences scored with the dense model per question part (latency vs. recall)."
    )
    verify: bool = Field(
        True,
        description="Ground model answers: accept one only where a passage holds its facts (off only to measure it).",
    )
    reread: bool = Field(
        True,
        description="When the model finds no answer in the passages, let it read the first passage alone once more.",
    )
    reread_lexical: bool = Field(
        True,
        description="When the first passage read alone gives no answer it holds and supports (above the abstention threshold), or the model's answer stands in no passage, read the passage BM25 ranks first alone too.",
    )
    reread_must_answer: bool = Field(
        True,
        description="The second read's prompt offers no NOT FOUND: grounding and the support threshold refuse instead.",
    )
    calibrate_yes_no: bool = Field(
        True,
        description="Decide a yes/no reply by how much more the model leans to Yes than it does for a content-free question over the same passages.",
    )
    named_treaty_only: bool = Field(
        True,
        description="A question that names a treaty by an acronym its text never writes ('cfe', 'npt') is not read in another treaty's passages; news and statutes stay.",
    )
    split_with_model: bool = Field(
        True,
        description="A question with a joining word or sign that the rules keep whole is split by the model when it asks for two things.",
    )
    yes_no_opposite: bool = Field(
        True,
        description="A calibrated Yes stands only if the model also leans to Yes less for the opposite question, which it writes itself.",
    )
    year_check: bool = Field(
        True,
        description=(
            "Reject an answer (the model's or the extractive fallback's) whose sentence names only years"
            " other than the one the question asks about."
        ),
    )
    abstain_threshold: float = Field(
        0.38,
        description="Minimum support (question words covered by the cited passage and its document) for a model answer; chosen on the abstention curve.",
    )
    extractive_threshold: float = Field(
        0.5, description="Minimum support score of the extractive reader's sentence (fast mode and fallback)."
    )
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (vLLM, Ollama, llama.cpp)."
    )
    openai_model: str = Field(
        "qwen2.5-coder-1.5b-instruct", description="Model name sent to the OpenAI-compatible server."
    )
    openai_api_key: SecretStr | None = Field(
        None, description="API key for the OpenAI-compatible server (never logged)."
    )
    llm_timeout: float = Field(
        30.0, description="Seconds before an OpenAI-compatible call is abandoned and the extractive answer is used."
    )
    llm_threads: int = Field(2, description="CPU threads for the local llama.cpp model.")
    max_tokens: int = Field(40, description="Token limit of a generated short answer.")
