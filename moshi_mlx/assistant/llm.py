"""The assistant's brain: any mlx-lm chat model, one conversation, one prompt cache across turns.

    llm = load_llm("demo-llm")          # or a local mlx-lm folder, or a HF repo id (downloaded)
    chat = ChatLLM(llm, system="Answer briefly.", settings=LlmSettings(greedy=True))
    chat.begin_reply("Hello!")
    while not (piece := chat.step()).done:   # one token per step, interleaved with audio frames
        say(piece.text)                      # visible text only; tool calls come as piece.tool_call
    chat.end_reply(heard=words_heard, interrupted=True)   # after a barge-in

Each reply renders the whole chat with the model's chat template, keeps the longest common prefix
of those tokens with the tokens the prompt cache holds, trims the rest from the cache (or starts a
fresh cache when it cannot be trimmed) and prefills only the new tokens. So every reply is, by
construction, what `mlx_lm.generate` gives for the chat rendered in full (tests check it, greedy),
also after a barge-in, a reply cut by max_tokens, or tool results.

Nothing here is thread-safe and every method calls MLX: the caller runs it all on the MLX worker
(moshi_mlx/engine/mlx_worker.py).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .llm_loader import LoadedLLM, load_llm  # noqa: F401  (load_llm re-exported: the public API)
from .toolcalls import StreamSplitter, ToolCall

__all__ = ["ChatLLM", "LlmSettings", "LoadedLLM", "Piece", "ReplyText", "ToolCall", "load_llm"]


@dataclass
class LlmSettings:
    """Read at each begin_reply (change them between replies, e.g. Unmute's 0.7 then 0.3), except
    the seed."""

    temperature: float = 0.7
    greedy: bool = False  # temperature 0 (argmax)
    max_tokens: int = 300  # per reply
    seed: int | None = None  # mx.random.seed, once, when the ChatLLM is made
    thinking: bool = False  # let models that think do so (their thoughts are never returned)

    @classmethod
    def from_options(cls, options) -> "LlmSettings":
        """The LLM part of an AssistantOptions."""
        return cls(temperature=options.temperature, greedy=options.greedy, max_tokens=options.max_tokens,
                   seed=options.seed, thinking=options.thinking)


@dataclass(frozen=True)
class Piece:
    """One step of a reply: `text` is new visible text (never tool-call markup or thinking)."""

    text: str
    done: bool
    tool_call: ToolCall | None = None
    # when done: "stop" (end of turn), "length" (max_tokens), "interrupted", "ended" (end_reply early)
    finish_reason: str | None = None


@dataclass(frozen=True)
class ReplyText:
    """A closed reply: `text` as the model wrote it (visible text), `heard` as the history keeps it."""

    text: str
    heard: str
    interrupted: bool
    finish_reason: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    tokens: int = 0
    prefill_tokens: int = 0
    prefill_s: float = 0.0  # the first step: prefill of the new tokens + the first token
    decode_s: float = 0.0  # the other steps

    @property
    def tokens_per_s(self) -> float:
        return (self.tokens - 1) / self.decode_s if self.tokens > 1 and self.decode_s > 0 else 0.0


@dataclass
class _Reply:
    splitter: StreamSplitter
    max_tokens: int
    prompt: list[int]
    new_tokens: list[int]
    detok: Any
    sampler: Any
    gen: Any = None
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    queue: deque = field(default_factory=deque)
    tokens: int = 0
    done: bool = False
    finish_reason: str | None = None
    prefill_s: float = 0.0
    decode_s: float = 0.0


class ChatLLM:
    """One conversation with one mlx-lm prompt cache (see the module docstring). MLX worker only."""

    def __init__(self, llm: LoadedLLM, system: str | None, settings: LlmSettings,
                 tools: list[dict] | None = None, history: list[dict] = ()):
        import mlx.core as mx

        self.llm = llm
        self.settings = settings
        self.supports_tools = bool(llm.tokenizer.has_tool_calling)
        self.tools = list(tools) if tools and self.supports_tools else None
        history = [dict(m) for m in history]
        if system and history and history[0].get("role") == "system":
            history = history[1:]  # this session's system prompt replaces the saved one
        self.messages: list[dict] = ([{"role": "system", "content": system}] if system else []) + history
        if settings.seed is not None:
            mx.random.seed(settings.seed)
        self._cache = None
        self._cached: list[int] = []  # the tokens the prompt cache holds
        self._reply: _Reply | None = None
        self._ids = itertools.count(1)
        self.last_prefill_tokens = 0  # tokens prefilled by the last reply (its new tokens)
        self.last_prefill_s = 0.0  # the last reply's first step: prefill + first token
        self.tokens_generated = 0  # tokens of the last reply

    # ---- the conversation ----

    def prompt_messages(self) -> list[dict]:
        """The messages as the chat template gets them: our marks removed, consecutive user (or
        assistant) turns merged, as Unmute does (a reply cut off before any word was heard leaves
        two user turns in a row)."""
        out: list[dict] = []
        for m in self.messages:
            m = {k: v for k, v in m.items() if k != "interrupted"}
            prev = out[-1] if out else None
            if (prev is not None and m["role"] == prev["role"] and m["role"] in ("user", "assistant")
                    and not prev.get("tool_calls") and not m.get("tool_calls")):
                out[-1] = {**prev, "content": f"{prev.get('content') or ''} {m.get('content') or ''}".strip()}
            else:
                out.append(m)
        return out

    def render(self) -> list[int]:
        """The whole chat as token ids, ready for the assistant's next reply."""
        tok = self.llm.tokenizer
        try:
            ids = tok.apply_chat_template(self.prompt_messages(), tools=self.tools, add_generation_prompt=True,
                                          enable_thinking=self.settings.thinking)
        except Exception as e:
            raise ConfigError(f"{self.llm.name}: its chat template fails on this conversation: {e}") from None
        if isinstance(ids, Mapping):
            ids = ids["input_ids"]
        return [int(i) for i in ids]

    def begin_reply(self, user_text: str | None, role: str = "user") -> None:
        """Add a message (None: continue after tool results) and get ready to reply; the prefill
        happens in the first step()."""
        if self._reply is not None:
            raise RuntimeError("begin_reply: the previous reply is still open (call end_reply first)")
        if user_text is not None:
            self.messages.append({"role": role, "content": user_text})
        prompt = self.render()
        keep = self._reuse(min(_common_prefix(prompt, self._cached), len(prompt) - 1))
        tok = self.llm.tokenizer
        thinking = bool(tok.has_thinking and tok.think_start and
                        self._decode_tail(prompt).rstrip().endswith(tok.think_start))
        splitter = StreamSplitter(tok, self.tools, self._new_call_id, self.supports_tools, thinking)
        self._reply = _Reply(splitter, self.settings.max_tokens, prompt, prompt[keep:], tok.detokenizer,
                             _sampler(self.settings))
        self.last_prefill_tokens = len(prompt) - keep
        self.last_prefill_s, self.tokens_generated = 0.0, 0

    def step(self) -> Piece:
        """Generate one token (the first call prefills the new tokens) and return what it adds."""
        r = self._reply
        if r is None:
            raise RuntimeError("step() without begin_reply()")
        if r.queue:
            return r.queue.popleft()
        if r.done:
            return Piece("", True, finish_reason=r.finish_reason)
        t0 = time.perf_counter()
        first = r.gen is None
        if first:
            r.gen = self._generator(r)
        try:
            token, _ = next(r.gen)
        except StopIteration:
            self._finish(r, "length")
            return r.queue.popleft()
        self._cached.append(int(token))
        if token in self.llm.tokenizer.eos_token_ids:
            self._time(r, first, t0)
            self._finish(r, "stop")
            return r.queue.popleft()
        r.tokens += 1
        self.tokens_generated = r.tokens
        r.detok.add_token(token)
        items = r.splitter.feed(r.detok.last_segment)
        self._time(r, first, t0)
        if r.tokens >= r.max_tokens:
            r.queue.extend(self._pieces(r, items))
            self._finish(r, "length")
            return r.queue.popleft()
        pieces = self._pieces(r, items)
        if not pieces:
            return Piece("", False)
        r.queue.extend(pieces[1:])
        return pieces[0]

    def add_tool_result(self, call: ToolCall, result: str) -> None:
        """A tool's answer; then begin_reply(None) lets the model go on. Closes an open reply."""
        if self._reply is not None:
            self.end_reply()
        self.messages.append({"role": "tool", "tool_call_id": call.call_id, "name": call.name,
                              "content": result})

    def end_reply(self, heard: str | None = None, interrupted: bool = False) -> ReplyText:
        """Close the reply. The history keeps `heard` (None: all the model's text, best when it was
        all said: the cache then needs no re-prefill) stripped; an interrupted reply's message is
        marked {"interrupted": True} (not shown to the model, as Unmute strips its em-dash) and
        dropped when no word was heard and no tool call was made."""
        r = self._reply
        if r is None:
            raise RuntimeError("end_reply() without an open reply")
        if not r.done:
            if interrupted:
                r.splitter.discard()
                self._finish(r, "interrupted")
            else:
                self._finish(r, "ended")
        if interrupted:  # calls not yet taken by step() are not made
            waiting = [p.tool_call for p in r.queue if p.tool_call is not None]
            r.calls = [c for c in r.calls if c not in waiting]
        if r.gen is not None:
            r.gen.close()
        self._reply = None
        kept = r.text if heard is None else heard.strip()
        message: dict = {"role": "assistant", "content": kept}
        if r.calls:
            message["tool_calls"] = [c.to_message() for c in r.calls]
        if interrupted:
            message["interrupted"] = True
        if kept or r.calls or not interrupted:
            self.messages.append(message)
        return ReplyText(r.text, kept, interrupted, r.finish_reason, tuple(r.calls), r.tokens,
                         len(r.new_tokens), r.prefill_s, r.decode_s)

    @property
    def replying(self) -> bool:
        return self._reply is not None

    # ---- internals ----

    def _generator(self, r: _Reply):
        import mlx.core as mx
        from mlx_lm.models.cache import make_prompt_cache

        from .llm_tokens import tokens_on_demand

        if self._cache is None:
            self._cache = make_prompt_cache(self.llm.model)
        self._cached.extend(r.new_tokens)
        # not mlx-lm's generate_step: its next token in flight would compete with the TTS's steps
        return tokens_on_demand(self.llm.model, mx.array(r.new_tokens), self._cache, r.sampler, r.max_tokens)

    def _reuse(self, keep: int) -> int:
        """Make the cache hold only the first `keep` cached tokens (trimmed, or a fresh cache when
        it cannot be trimmed, e.g. SSM layers); returns how many it keeps."""
        from mlx_lm.models.cache import can_trim_prompt_cache, trim_prompt_cache

        drop = len(self._cached) - keep
        if self._cache is None:
            self._cached = []
            return 0
        if drop > 0:
            if can_trim_prompt_cache(self._cache):
                trim_prompt_cache(self._cache, drop)
                del self._cached[keep:]
            else:
                self._cache, self._cached = None, []
        return len(self._cached)

    def _finish(self, r: _Reply, reason: str) -> None:
        items: list = []
        if reason != "interrupted":
            r.detok.finalize()
            items = r.splitter.feed(r.detok.last_segment) + r.splitter.finish()
        pieces = self._pieces(r, items)
        r.done, r.finish_reason = True, reason
        r.queue.extend(pieces)
        r.queue.append(Piece("", True, finish_reason=reason))

    def _pieces(self, r: _Reply, items: list) -> list[Piece]:
        pieces = []
        for item in items:
            if isinstance(item, ToolCall):
                r.calls.append(item)
                pieces.append(Piece("", False, tool_call=item))
            else:
                r.text += item
                pieces.append(Piece(item, False))
        return pieces

    def _time(self, r: _Reply, first: bool, t0: float) -> None:
        dt = time.perf_counter() - t0
        if first:
            r.prefill_s = self.last_prefill_s = dt
        else:
            r.decode_s += dt

    def _decode_tail(self, prompt: list[int]) -> str:
        return self.llm.tokenizer.decode(prompt[-8:])

    def _new_call_id(self) -> str:
        return f"call_{next(self._ids)}"


def _sampler(settings: LlmSettings):
    from mlx_lm.sample_utils import make_sampler

    greedy = settings.greedy or settings.temperature <= 0
    return make_sampler(temp=0.0 if greedy else settings.temperature)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n
