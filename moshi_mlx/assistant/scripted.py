"""A scripted LLM: an mlx-lm-compatible model that writes fixed replies, for exact engine tests.

    llm = scripted_llm(["Hello there.", '<tool_call>{"name": "get_time", "arguments": {}}</tool_call>',
                        "It is noon."])
    chat = ChatLLM(llm, None, LlmSettings())   # same path as a real model: template, cache, stream

The model reads its whole context from its prompt cache (a real mlx-lm KVCache holding the token
ids, so trimming and reuse go through mlx-lm's own code) and puts all the probability on the next
token of the current reply, then on the end-of-turn token; any temperature gives the same text.
Reply n is written after the n-th reply start in the context (Qwen: `<|im_start|>assistant\\n`;
Mistral: `[/INST]` or the last `[/TOOL_RESULTS]` of a row), counting from 0 and counting the
history's assistant turns; after the last scripted reply it ends every reply at once. If the
context after the reply start is not a beginning of the script (a reply cut off and continued), it
ends the reply.
Texts are tokenized with demo-llm's tokenizer (qwen or mistral chat template, tool_format).
Specs "scripted:FILE.json" load `{"replies": [...], "tool_format": "qwen"}` (or a plain list).
"""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn

from ..errors import ConfigError
from .loaded_llm import LoadedLLM

# where replies start, and what after a start means it was not one (the next tool result)
REPLY_STARTS = {"qwen": (("<|im_start|>assistant\n",), ()),
                "mistral": (("[/INST]", "[/TOOL_RESULTS]"), ("[TOOL_RESULTS]",))}


def all_on(token: int, vocab: int) -> mx.array:
    """Logits [vocab] with all the probability on `token`."""
    return mx.where(mx.arange(vocab) == token, 0.0, -1e9)


class ScriptedModel(nn.Module):
    """Logits (1, L, vocab) all on the next scripted token; its cache (one KVCache) keeps the ids."""

    def __init__(self, replies: list[list[int]], starts: list[list[int]], eos: int, vocab: int,
                 not_followed_by: list[list[int]] = ()):
        super().__init__()
        self._replies, self._starts, self._eos, self._vocab = replies, starts, eos, vocab
        self._not_followed_by = list(not_followed_by)
        self.layers = [nn.Identity()]  # make_prompt_cache: one KVCache
        self.calls: list[int] = []  # tokens fed per call (prefill sizes, for tests)

    def __call__(self, inputs: mx.array, cache=None, **kwargs) -> mx.array:
        length = inputs.shape[-1]
        self.calls.append(length)
        ids = inputs.reshape(1, 1, length, 1).astype(mx.float32)
        if cache is not None:
            ids, _ = cache[0].update_and_fetch(ids, ids)
        context = [int(t) for t in ids.reshape(-1).tolist()]
        nxt = self.next_token(context)
        logits = all_on(nxt, self._vocab)
        return mx.broadcast_to(logits, (1, length, self._vocab))

    def next_token(self, context: list[int]) -> int:
        count, last = 0, -1
        for start in self._starts:
            n = len(start)
            for i in range(len(context) - n + 1):
                if context[i:i + n] == start and not any(
                        context[i + n:i + n + len(f)] == f for f in self._not_followed_by):
                    count += 1
                    last = max(last, i + n)
        if count == 0 or count > len(self._replies):
            return self._eos
        script, written = self._replies[count - 1], context[last:]
        if script[:len(written)] != written or len(written) >= len(script):
            return self._eos
        return script[len(written)]


def scripted_llm(replies: list[str], tool_format: str = "qwen", cache_dir: str | None = None) -> LoadedLLM:
    """A LoadedLLM that writes `replies` in turn (see the module docstring)."""
    from mlx_lm.tokenizer_utils import load as load_tokenizer

    from .demo_llm import demo_llm_dir

    if tool_format not in REPLY_STARTS:
        raise ConfigError(f"scripted LLM: tool_format {tool_format!r}, expected one of {sorted(REPLY_STARTS)}")
    folder = demo_llm_dir(cache_dir, tool_format)
    config = json.loads((folder / "config.json").read_text())
    tokenizer = load_tokenizer(folder, eos_token_ids=config["eos_token_id"])
    eos = config["eos_token_id"][0]
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    starts, not_followed_by = REPLY_STARTS[tool_format]
    model = ScriptedModel([encode(r) for r in replies], [encode(s) for s in starts], eos, config["vocab_size"],
                          [encode(s) for s in not_followed_by])
    return LoadedLLM(model, tokenizer, f"scripted LLM ({len(replies)} replies, {tool_format})", True, folder)


def load_script(path: str, cache_dir: str | None = None) -> LoadedLLM:
    """`scripted:FILE.json`: {"replies": [...], "tool_format": "qwen" | "mistral"} or a list of replies."""
    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text())
    except OSError as e:
        raise ConfigError(f"scripted LLM {file}: cannot read it ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"scripted LLM {file}: not valid JSON ({e})") from None
    if isinstance(data, list):
        data = {"replies": data}
    replies = data.get("replies") if isinstance(data, dict) else None
    if not isinstance(replies, list) or not all(isinstance(r, str) for r in replies):
        raise ConfigError(f"scripted LLM {file}: 'replies' must be a list of texts")
    return scripted_llm(replies, data.get("tool_format", "qwen"), cache_dir)
