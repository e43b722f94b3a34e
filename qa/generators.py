"""Chat generators behind one small protocol, so the answerer never imports llama.cpp or an
HTTP client itself and tests inject a scripted fake.

`local`: a Qwen2.5 instruct GGUF in-process with llama.cpp (its own chat template), kept warm.
`openai`: any OpenAI-compatible server (vLLM, Ollama, llama.cpp server) through langchain-openai.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from vectorstore import RagqaError

from . import models, prefix
from .config import QAConfig

Message = dict[str, str]
log = logging.getLogger(__name__)


class AnswerError(RagqaError):
    """The answer backend failed (server down, timeout, bad output)."""


class Generator(Protocol):
    """Streams the reply to a chat, token by token."""

    name: str

    def chat(
        self, messages: list[Message], max_tokens: int, stop: list[str] | None = None, ban: Sequence[str] = ()
    ) -> Iterator[str]:
        """`ban`: words the reply may not use, where the backend can forbid them."""
        ...


@runtime_checkable
class YesNoScorer(Generator, Protocol):
    """A backend that can say how much more it leans to "Yes" than to "No" as a reply's first word."""

    def yes_no_margin(self, messages: list[Message]) -> float | None:
        """logit("Yes") - logit("No") for the first token of the reply to `messages`; None when
        the backend cannot tell (the reply then stands)."""
        ...

    def aside(self) -> AbstractContextManager[None]:
        """Chats run inside leave the margin of the chat just read as cheap as before."""
        ...


def complete(
    gen: Generator, messages: list[Message], max_tokens: int, stop: list[str] | None = None, ban: Sequence[str] = ()
) -> str:
    return "".join(gen.chat(messages, max_tokens, stop, ban)).strip()


class LocalGenerator:
    """A bundled instruct model run by llama.cpp with the chat template stored in its GGUF."""

    name = "local"

    def __init__(self, config: QAConfig, models_dir: Path) -> None:
        self.model_name = config.local_model
        self.llama = models.load(config.local_model, models_dir, config.llm_threads)
        self.heads = prefix.heads(self.llama)

    def chat(
        self, messages: list[Message], max_tokens: int, stop: list[str] | None = None, ban: Sequence[str] = ()
    ) -> Iterator[str]:
        self.heads.start(messages)  # the reply then depends on these messages only
        # A banned word that is one token, with or without its leading space, is never chosen
        # (a longer word's first token would ban other words that start with it too).
        spelt = [self.llama.tokenize(w.encode(), add_bos=False) for word in ban for w in (word, " " + word)]
        bias = {ids[0]: -100.0 for ids in spelt if len(ids) == 1} or None
        for part in self.llama.create_chat_completion(
            messages=messages, max_tokens=max_tokens, temperature=0.0, stop=stop or [], stream=True, logit_bias=bias
        ):
            text = part["choices"][0]["delta"].get("content")
            if text:
                yield text

    def yes_no_margin(self, messages: list[Message]) -> float:
        # No `heads.start`: llama.cpp then reuses the KV cache of the chat just read, which
        # shares every token up to the question, so this costs the question's few tokens only.
        # (A margin, unlike a greedy reply, does not flip on the last bits of a float sum.)
        from llama_cpp import LogitsProcessorList

        yes, no = (self.llama.tokenize(w.encode(), add_bos=False)[0] for w in ("Yes", "No"))
        seen: list[float] = []

        def capture(_ids: object, scores: np.ndarray) -> np.ndarray:
            if not seen:
                seen.append(float(scores[yes] - scores[no]))
            return scores

        self.llama.create_chat_completion(
            messages=messages, max_tokens=1, temperature=0.0, logits_processor=LogitsProcessorList([capture])
        )
        return seen[0]

    def aside(self) -> AbstractContextManager[None]:
        return self.heads.aside()


class OpenAIGenerator:
    """Any OpenAI-compatible chat server."""

    name = "openai"

    def __init__(self, config: QAConfig) -> None:
        from langchain_openai import ChatOpenAI

        if not config.openai_base_url:
            raise AnswerError(
                "no OpenAI-compatible server is configured: set RAGQA_OPENAI_BASE_URL (e.g. http://127.0.0.1:8080/v1)"
            )
        key = config.openai_api_key.get_secret_value() if config.openai_api_key else "not-needed"
        self.model_name = config.openai_model
        self.chat_model = ChatOpenAI(
            base_url=config.openai_base_url,
            model=config.openai_model,
            api_key=key,  # type: ignore[arg-type]
            timeout=config.llm_timeout,
            max_retries=0,
            temperature=0.0,
        )

    def chat(
        self, messages: list[Message], max_tokens: int, stop: list[str] | None = None, ban: Sequence[str] = ()
    ) -> Iterator[str]:
        # `ban` is not sent: a logit bias needs the served model's token ids, which differ by server.
        try:
            for chunk in self.chat_model.stream(
                [(m["role"], m["content"]) for m in messages], max_tokens=max_tokens, stop=stop or None
            ):
                if chunk.content:
                    yield str(chunk.content)
        except Exception as exc:
            raise AnswerError(f"the OpenAI-compatible server failed ({type(exc).__name__})") from None

    def yes_no_margin(self, messages: list[Message]) -> float | None:
        # Log-probabilities differ as the logits do, so the first token's `top_logprobs` (at most
        # 20 in the OpenAI API) give the same margin as the local model's logits.
        try:
            reply = self.chat_model.bind(logprobs=True, top_logprobs=20).invoke(
                [(m["role"], m["content"]) for m in messages], max_tokens=1
            )
            first = reply.response_metadata["logprobs"]["content"][0]["top_logprobs"]
        except Exception as exc:  # a server without log-probabilities: the reply stands
            log.warning("no log-probabilities from the OpenAI-compatible server (%s)", type(exc).__name__)
            return None
        top = {t["token"]: t["logprob"] for t in first}
        return float(top["Yes"] - top["No"]) if "Yes" in top and "No" in top else None

    def aside(self) -> AbstractContextManager[None]:
        return nullcontext()  # the server keeps its own cache


def make_generator(config: QAConfig, backend: str, models_dir: Path) -> Generator | None:
    if backend == "local":
        return LocalGenerator(config, models_dir)
    if backend == "openai":
        return OpenAIGenerator(config)
    return None
