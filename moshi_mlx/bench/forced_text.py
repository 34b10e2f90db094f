"""A chat model that computes every token with its own forward pass but writes a set text, for
`bench assistant`: with random weights a model writes noise, whose "words" take many tokens each
(demo-llm: ~35 tokens before the TTS's first audio), so the TTS would wait on the LLM far longer
than behind a real chat model (~1.3 tokens a word). The cost of a token is the model's own (same
calls, same cache, same prefill); only the token chosen is the text's.

    forced = force_replies(chat, lambda user: "Sure, here it is.")   # a ChatLLM, changed in place
"""

from __future__ import annotations

from typing import Callable

import mlx.core as mx
import mlx.nn as nn

from ..assistant.scripted import all_on
from ..errors import ConfigError


class ForcedText(nn.Module):
    """`inner`'s forward pass on every call, its logits all on the next token of the text set by
    `expect`. A call's position in the reply comes from its cache's offset (the tokens before the
    call), so the prefill's chunks, the reply's tokens and a trimmed cache all count right."""

    def __init__(self, inner, eos: int):
        super().__init__()
        self.inner, self.eos = inner, eos
        self._ids: list[int] = [eos]
        self._start = 0  # the prompt's length: the call that ends there writes token 0

    @property
    def layers(self):
        return self.inner.layers

    def make_cache(self):
        from mlx_lm.models.cache import make_prompt_cache

        return make_prompt_cache(self.inner)

    def expect(self, ids: list[int], prompt_length: int) -> None:
        self._ids, self._start = list(ids) + [self.eos], prompt_length

    def __call__(self, inputs: mx.array, cache=None, **kwargs) -> mx.array:
        offset = getattr(cache[0], "offset", None) if cache else None
        if not isinstance(offset, int):
            raise ConfigError("bench assistant: this LLM's cache has no token offset to follow a set text "
                              "(use --free-text)")
        k = offset + inputs.shape[-1] - self._start  # < 0: a prefill chunk, whose logits are not used
        logits = self.inner(inputs, cache=cache, **kwargs)
        nxt = self._ids[min(max(k, 0), len(self._ids) - 1)]
        forced = all_on(nxt, logits.shape[-1]).astype(logits.dtype)
        return forced + 0 * logits  # the model's logits are computed, as a real reply computes them


def force_replies(chat, reply_for: Callable[[str | None], str]) -> None:
    """Make `chat` (a ChatLLM) write `reply_for(user_text)` in every reply, with its model's compute."""
    tok = chat.llm.tokenizer
    model = ForcedText(chat.llm.model, min(tok.eos_token_ids))
    chat.llm = type(chat.llm)(model, tok, f"{chat.llm.name} (writing a set text)", chat.llm.is_demo, chat.llm.path)
    begin = chat.begin_reply

    def begin_reply(user_text, role="user"):
        begin(user_text, role)
        model.expect(tok.encode(reply_for(user_text), add_special_tokens=False), len(chat._reply.prompt))

    chat.begin_reply = begin_reply
