"""The LLM's text stream split into what is said, what is thought, and tool calls.

Markers come from mlx-lm's own tokenizer wrapper: `tool_call_start` / `tool_call_end` and the
`tool_parser` that mlx-lm picks for the model (Qwen/Hermes `<tool_call>{json}</tool_call>`, Mistral
`[TOOL_CALLS]name[ARGS]{json}` which has no end marker and runs to the end of the reply, ...), and
`think_start` / `think_end`. Marker text, call arguments and thinking never come out as text.
A call that the parser rejects is dropped (kept in `failed`), never spoken. Plain Python, no MLX.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for: `arguments` as the model gave them (a dict)."""

    call_id: str
    name: str
    arguments: dict

    def to_message(self) -> dict:
        """The OpenAI-style `tool_calls` entry that chat templates render."""
        return {"id": self.call_id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


class StreamSplitter:
    """Feed text deltas; get back a list of visible text pieces (str) and ToolCalls, in order.

    `tool_calls`: recognise calls (False: a model without tool calling, its text passes as is).
    `thinking`: the stream starts inside a thought (the prompt ended with the think start marker).
    `new_id()`: gives each parsed call its id when the model gave none.
    """

    def __init__(self, tokenizer, tools: list[dict] | None, new_id, tool_calls: bool = True,
                 thinking: bool = False):
        self._parser = tokenizer.tool_parser if tool_calls and tokenizer.has_tool_calling else None
        self._call_start = tokenizer.tool_call_start if self._parser else None
        self._call_end = tokenizer.tool_call_end if self._parser else None
        self._think = (tokenizer.think_start, tokenizer.think_end) if tokenizer.has_thinking else None
        self._tools = tools
        self._new_id = new_id
        self._mode = "think" if thinking and self._think else "text"
        self._buf = ""
        self._strip = False  # drop the whitespace that follows a thought or a call
        self.failed: list[str] = []  # call texts the parser rejected

    def _starts(self) -> list[tuple[str, str]]:
        marks = []
        if self._call_start:
            marks.append((self._call_start, "call"))
        if self._think:
            marks.append((self._think[0], "think"))
        return marks

    def feed(self, text: str) -> list:
        self._buf += text
        out: list = []
        while True:
            if self._mode == "text":
                found = [(self._buf.find(m), m, mode) for m, mode in self._starts() if m in self._buf]
                if found:
                    at, mark, mode = min(found)
                    self._emit(out, self._buf[:at])
                    self._buf, self._mode = self._buf[at + len(mark):], mode
                    continue
                keep = _partial_suffix(self._buf, [m for m, _ in self._starts()])
                self._emit(out, self._buf[:len(self._buf) - keep])
                self._buf = self._buf[len(self._buf) - keep:]
                return out
            end = self._think[1] if self._mode == "think" else self._call_end
            if not end or end not in self._buf:
                return out
            at = self._buf.find(end)
            if self._mode == "call":
                out.extend(self._parse(self._buf[:at]))
            self._buf, self._mode, self._strip = self._buf[at + len(end):], "text", True

    def finish(self) -> list:
        """The end of the reply: the rest of the text, or a call without end marker (Mistral)."""
        out: list = []
        if self._mode == "text":
            self._emit(out, self._buf)
        elif self._mode == "call" and self._buf.strip():
            out.extend(self._parse(self._buf))
        self._buf, self._mode = "", "text"
        return out

    def discard(self) -> None:
        """The reply was cut off: a call not yet complete is not made."""
        self._buf, self._mode = "", "text"

    def _emit(self, out: list, text: str) -> None:
        if self._strip:
            text = text.lstrip()
            self._strip = not text
        if text:
            out.append(text)

    def _parse(self, text: str) -> list[ToolCall]:
        try:
            parsed = self._parser(text, self._tools)
        except Exception as e:  # the model wrote something that is not a call: drop it
            log.warning("tool call not understood (%s): %r", e, text[:200])
            self.failed.append(text)
            return []
        calls = []
        for p in parsed if isinstance(parsed, list) else [parsed]:
            args = p.get("arguments", {}) if isinstance(p, dict) else None
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    args = None
            if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not isinstance(args, dict):
                self.failed.append(text)
                continue
            calls.append(ToolCall(p.get("id") or self._new_id(), p["name"], args))
        return calls


def _partial_suffix(text: str, marks: list[str]) -> int:
    """The length of the longest end of `text` that could begin a marker (held back)."""
    best = 0
    for m in marks:
        for n in range(min(len(m) - 1, len(text)), best, -1):
            if text.endswith(m[:n]):
                best = n
                break
    return best
