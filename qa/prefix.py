"""Every chat with the local model starts from the same cache state, so a reply depends on its
prompt alone, not on the question asked before it.

llama.cpp reuses the longest cached prefix of the previous prompt and evaluates the rest. How long
that prefix is depends on the previous prompt, and evaluating the rest from another position in
other batches changes the floating-point sums enough to flip a greedy choice: in one session the
same question was answered "New START Treaty" after the INF question and "CFE Treaty" on its own.
So a prompt's head (chat template and system message, up to the user's text) is evaluated alone
once, its KV cache is kept, and every chat with that head resumes from exactly there.
"""

from __future__ import annotations

import ctypes
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KEEP = 8  # heads kept (reader, second read, rewrite...): about 5 MB each for the 1.5B model
SEQ = 0  # llama-cpp-python evaluates everything in sequence 0

Message = dict[str, str]


class PromptHeads:
    """The KV cache of each prompt head, evaluated alone, restored before each chat."""

    def __init__(self, llama: Any) -> None:
        from llama_cpp import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = llama
        self.api = llama_cpp
        # The same template, tokens and tokenisation as llama-cpp-python's own chat handler.
        self.format = Jinja2ChatFormatter(
            template=llama.metadata["tokenizer.chat_template"],
            eos_token=llama.detokenize([llama.token_eos()], special=True).decode(),
            bos_token=llama.detokenize([llama.token_bos()], special=True).decode(),
        )
        self.saved: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.current: tuple[int, ...] = ()

    def tokens(self, messages: list[Message]) -> list[int]:
        result = self.format(messages=messages)
        return list(self.llama.tokenize(result.prompt.encode(), add_bos=not result.added_special, special=True))

    def head(self, messages: list[Message]) -> tuple[int, ...]:
        """The tokens before the last message's text: the same for every question of one prompt."""
        full = self.tokens(messages)
        empty = self.tokens([*messages[:-1], {**messages[-1], "content": ""}])
        n = 0
        while n < min(len(full), len(empty)) and full[n] == empty[n]:
            n += 1
        return tuple(full[:n])

    def start(self, messages: list[Message]) -> None:
        """Leave the model holding exactly this prompt's head, so the chat evaluates only the rest."""
        head = self.head(messages)
        llama, n = self.llama, len(head)
        ctx = llama._ctx  # no public API for one sequence's state; these calls copy ~5 MB in < 1 ms
        if head == self.current and llama.n_tokens >= n and tuple(llama.input_ids[:n]) == head:
            llama.n_tokens = n  # the last chat only appended after the head: drop what it appended
            return
        ctx.kv_cache_seq_rm(-1, 0, -1)
        llama.n_tokens = 0
        state = self.saved.get(head)
        if state is None:
            llama.eval(list(head))
            size = self.api.llama_state_seq_get_size(ctx.ctx, SEQ)
            state = (ctypes.c_uint8 * size)()
            self.api.llama_state_seq_get_data(ctx.ctx, state, size, SEQ)
            self.saved[head] = state
            if len(self.saved) > KEEP:
                self.saved.popitem(last=False)
        else:
            self.saved.move_to_end(head)
            if self.api.llama_state_seq_set_data(ctx.ctx, state, len(state), SEQ) != len(state):
                raise RuntimeError("llama.cpp could not restore a saved prompt head")
            llama.input_ids[:n] = head
            llama.n_tokens = n
        self.current = head

    @contextmanager
    def aside(self) -> Iterator[None]:
        """Chats run inside leave the model holding what it held before (the chat just read, whose
        cache a yes/no margin reuses): its KV cache is copied out and put back."""
        llama = self.llama
        ctx, n = llama._ctx, llama.n_tokens
        ids = llama.input_ids[:n].copy()
        size = self.api.llama_state_seq_get_size(ctx.ctx, SEQ)
        state = (ctypes.c_uint8 * size)()
        self.api.llama_state_seq_get_data(ctx.ctx, state, size, SEQ)
        current = self.current
        try:
            yield
        finally:
            ctx.kv_cache_seq_rm(-1, 0, -1)
            if self.api.llama_state_seq_set_data(ctx.ctx, state, size, SEQ) != size:
                raise RuntimeError("llama.cpp could not restore the chat put aside")
            llama.input_ids[:n] = ids
            llama.n_tokens = n
            self.current = current


_HEADS: weakref.WeakKeyDictionary[Any, PromptHeads] = weakref.WeakKeyDictionary()


def heads(llama: Any) -> PromptHeads:
    """One cache of heads per loaded model: generators that share a model share its cache."""
    if llama not in _HEADS:
        _HEADS[llama] = PromptHeads(llama)
    return _HEADS[llama]
