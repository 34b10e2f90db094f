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
from pathlib import Path
from typing import Any, Callable

from ..errors import CheckpointError, ConfigError, ModelNotAvailableError
from .toolcalls import StreamSplitter, ToolCall

DEMO_SPECS = {"demo-llm": "qwen", "demo-llm-mistral": "mistral"}
SCRIPTED_PREFIX = "scripted:"


@dataclass
class LoadedLLM:
    """An mlx-lm model with its TokenizerWrapper; `name` for messages, `is_demo` for random weights."""

    model: Any
    tokenizer: Any  # mlx_lm.tokenizer_utils.TokenizerWrapper
    name: str
    is_demo: bool = False
    path: Path | None = None


@dataclass
class LlmSettings:
    temperature: float = 0.7
    greedy: bool = False  # temperature 0 (argmax)
    max_tokens: int = 300  # per reply
    seed: int | None = None  # mx.random.seed, once, when the ChatLLM is made
    thinking: bool = False  # let models that think do so (their thoughts are never returned)


@dataclass(frozen=True)
class Piece:
    """One step of a reply: `text` is new visible text (never tool-call markup or thinking)."""

    text: str
    done: bool
    tool_call: ToolCall | None = None
    finish_reason: str | None = None  # when done: "stop" (end of turn), "length" (max_tokens), "interrupted"


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
    prefill_s: float = 0.0
    decode_s: float = 0.0


def load_llm(spec: str, cache_dir: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> LoadedLLM:
    """`demo-llm`, `scripted:FILE.json` (scripted.py), an mlx-lm model folder, or a HF repo id
    (downloaded into the HF cache unless there; `progress(done_bytes, total_bytes)`)."""
    if spec in DEMO_SPECS:
        from .demo_llm import DEMO_NOTE, demo_llm_dir

        loaded = _load_folder(demo_llm_dir(cache_dir, DEMO_SPECS[spec]), f"{spec} ({DEMO_NOTE})")
        loaded.is_demo = True
        return loaded
    if spec.startswith(SCRIPTED_PREFIX):
        from .scripted import load_script

        return load_script(spec[len(SCRIPTED_PREFIX):], cache_dir)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _load_folder(path, str(path))
    if path.exists():
        raise CheckpointError(f"--llm {spec}: a file, not a model folder (give the folder that holds "
                              "config.json and the .safetensors)")
    if spec.count("/") != 1 or spec.startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"--llm {spec!r}: not a folder and not a Hugging Face repo id "
                                     "(org/name); try demo-llm or mlx-community/Qwen3-4B-Instruct-2507-4bit")
    from .. import hub

    folder = hub.download(spec, cache_dir, progress)  # the cached copy when there: no network
    return _load_folder(folder, spec)


def _load_folder(folder: Path, name: str) -> LoadedLLM:
    import json

    import mlx_lm
    from mlx_lm.utils import _get_classes

    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{folder}: no config.json, not an mlx-lm model folder")
    try:
        config = json.loads(config_path.read_text())
        _get_classes(config)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{config_path}: not valid JSON ({e})") from None
    except KeyError:
        raise ConfigError(f"{config_path}: no model_type, not an mlx-lm model") from None
    except ValueError:
        raise ConfigError(f"{config_path}: model_type {config.get('model_type')!r} is not one that "
                          "mlx-lm can run (update mlx-lm, or choose another model)") from None
    if not any(folder.glob("*.safetensors")):
        raise CheckpointError(f"{folder}: no .safetensors weights (an mlx-lm model folder holds "
                              "model*.safetensors)")
    try:
        model, tokenizer = mlx_lm.load(str(folder))
    except Exception as e:
        raise CheckpointError(f"{folder}: mlx-lm cannot load this model: {type(e).__name__}: {e}") from None
    try:
        tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True)
    except Exception as e:
        raise ConfigError(f"{folder}: the tokenizer has no usable chat template (tokenizer_config.json "
                          f"'chat_template' or chat_template.jinja): {e}") from None
    return LoadedLLM(model, tokenizer, name, False, folder)


@dataclass
class _Reply:
    splitter: StreamSplitter
    max_tokens: int
    prompt: list[int]
    new_tokens: list[int]
    detok: Any
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
        from mlx_lm.sample_utils import make_sampler

        self.llm = llm
        self.settings = settings
        self.supports_tools = bool(llm.tokenizer.has_tool_calling)
        self.tools = list(tools) if tools and self.supports_tools else None
        self.messages: list[dict] = ([{"role": "system", "content": system}] if system else [])
        self.messages += [dict(m) for m in history]
        if settings.seed is not None:
            mx.random.seed(settings.seed)
        greedy = settings.greedy or settings.temperature <= 0
        self._sampler = make_sampler(temp=0.0 if greedy else settings.temperature)
        self._cache = None
        self._cached: list[int] = []  # the tokens the prompt cache holds
        self._reply: _Reply | None = None
        self._ids = itertools.count(1)
        self.last_prefill_tokens = 0  # tokens prefilled by the last reply (its new tokens)
        self.last_prefill_s = 0.0  # the last reply's first step: prefill + first token
        self.tokens_generated = 0  # tokens of the last reply

    # ---- the conversation ----

    def prompt_messages(self) -> list[dict]:
        """The messages as the chat template gets them: our marks removed, consecutive user turns
        merged (an assistant reply cut off before any word was heard leaves none)."""
        out: list[dict] = []
        for m in self.messages:
            m = {k: v for k, v in m.items() if k != "interrupted"}
            if out and m["role"] == "user" and out[-1]["role"] == "user":
                out[-1] = {**out[-1], "content": f"{out[-1]['content']} {m['content']}".strip()}
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
        self._reply = _Reply(splitter, self.settings.max_tokens, prompt, prompt[keep:], tok.detokenizer)
        self.last_prefill_tokens = len(prompt) - keep
        self.tokens_generated = 0

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
        """Close the reply. The history keeps `heard` (None: all the text) stripped; an interrupted
        reply's message is marked {"interrupted": True} (not shown to the model, like Unmute, which
        strips its em-dash) and dropped when no word was heard and no tool call made."""
        r = self._reply
        if r is None:
            raise RuntimeError("end_reply() without an open reply")
        if not r.done:
            if interrupted:
                r.splitter.discard()
                self._finish(r, "interrupted")
            else:
                self._finish(r, "stop")
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
        from mlx_lm.generate import generate_step
        from mlx_lm.models.cache import make_prompt_cache

        if self._cache is None:
            self._cache = make_prompt_cache(self.llm.model)
        self._cached.extend(r.new_tokens)
        return generate_step(mx.array(r.new_tokens), self.llm.model, max_tokens=r.max_tokens,
                             sampler=self._sampler, prompt_cache=self._cache)

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


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n
