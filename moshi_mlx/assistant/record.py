"""Keeping an assistant session for History: `assistant-<time>.wav` (channel 1 the user, channel 2
the assistant) and `assistant-<time>.txt`, one line per turn saying who spoke ("User: ...",
"Assistant: ...", a reply cut off ends with an em-dash), with the session's JSON sidecar. The
recorder of every session (engine/recorder.py): both files valid at every moment.

Each tool call that ended is one line at its place, when its result came (so before the line of
the reply it served): `Tool: <name> <arguments as JSON> → <status>: <result, shortened>`, status
"allowed" or "denied", "error" or "cancelled", with " (asked)" when the user was asked first; the
sidecar's `tool_calls` list holds the same, structured (`tool_line` / `parse_tool_line` here are
the one definition of the line, used by History to continue a session).

The two voices are queued separately and written side by side; when one runs ahead of the other by
more than `SLACK_FRAMES` (the user typed, nobody spoke), the other is padded with silence."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import FRAME_SIZE, SAMPLE_RATE
from ..engine.recorder import Recorder, _stamp

SLACK_FRAMES = 4
TOOL = "Tool"
ARROW = " → "
STATUSES = ("allowed", "denied", "error", "cancelled")
ASKED = " (asked)"
RESULT_CHARS = 300  # of a result, in the transcript and the sidecar


@dataclass(frozen=True)
class ToolRecord:
    """One tool call as the recording keeps it."""

    name: str
    arguments: dict
    status: str  # one of STATUSES
    result: str  # shortened, on one line
    asked: bool = False  # the user was asked (and answered, or not)
    turn: int = 0
    time_s: float = 0.0


def tool_line(r: ToolRecord) -> str:
    """The transcript text of a call (without the time stamp)."""
    args = json.dumps(r.arguments, ensure_ascii=False, sort_keys=True, default=str)
    status = r.status + (ASKED if r.asked else "")
    return f"{TOOL}: {r.name} {args}{ARROW}{status}" + (f": {r.result}" if r.result else "")


def parse_tool_line(text: str) -> ToolRecord | None:
    """A transcript line written by `tool_line` (its time stamp removed), or None."""
    head, sep, rest = text.partition(": ")
    if head.strip() != TOOL or not sep:
        return None
    name, _, rest = rest.partition(" ")
    try:
        arguments, end = json.JSONDecoder().raw_decode(rest)
    except ValueError:
        return None
    tail = rest[end:]
    if not name or not isinstance(arguments, dict) or not tail.startswith(ARROW):
        return None
    status, _, result = tail[len(ARROW):].partition(": ")
    asked = status.endswith(ASKED)
    status = status[:-len(ASKED)] if asked else status
    if status not in STATUSES:
        return None
    return ToolRecord(name, arguments, status, result.strip(), asked)


def _one_line(text: str, limit: int = RESULT_CHARS) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class AssistantRecorder(Recorder):
    def __init__(self, folder: str | Path, models: str, note: str = "", meta: dict | None = None):
        super().__init__(folder, note, meta, name="assistant", channels=2, title=f"Assistant, {models},")
        self._user: list[np.ndarray] = []
        self._assistant: list[np.ndarray] = []

    def user_audio(self, pcm: np.ndarray) -> None:
        self._user.append(np.asarray(pcm, np.float32).reshape(-1))
        self._drain()

    def assistant_audio(self, pcm: np.ndarray) -> None:
        self._assistant.append(np.asarray(pcm, np.float32).reshape(-1))
        self._drain()

    def _drain(self, final: bool = False) -> None:
        a, b = self._user, self._assistant
        limit = 0 if final else SLACK_FRAMES
        while len(a) > limit and not b:
            b.append(np.zeros(FRAME_SIZE, np.float32))
        while len(b) > limit and not a:
            a.append(np.zeros(FRAME_SIZE, np.float32))
        while a and b:
            u, s = a.pop(0), b.pop(0)
            n = max(len(u), len(s))
            self.write_frame(np.pad(u, (0, n - len(u))), np.pad(s, (0, n - len(s))))

    @property
    def time_s(self) -> float:
        return self._wav.seconds + len(self._user) * FRAME_SIZE / SAMPLE_RATE

    def line(self, who: str, text: str) -> None:
        self._txt.write(("\n" if self._line_open else "") + f"[{_stamp(self.time_s)}] {who}: {text}")
        self._line_open = True
        self._txt.flush()

    def tool_call(self, name: str, arguments: dict, status: str, result: str = "", asked: bool = False,
                  turn: int = 0) -> ToolRecord:
        """A call that ended: its line in the transcript, its entry in the sidecar's `tool_calls`."""
        if status not in STATUSES:
            raise ValueError(f"tool call status {status!r}: one of {', '.join(STATUSES)}")
        args = arguments if isinstance(arguments, dict) else {"arguments": str(arguments)}
        record = ToolRecord(str(name), args, status, _one_line(result), bool(asked), int(turn),
                            round(self.time_s, 3))
        self.line(TOOL, tool_line(record)[len(TOOL) + 2:])
        if self.meta is not None:
            from ..engine.session_meta import write_atomic

            self.meta.data.setdefault("tool_calls", []).append(asdict(record))
            try:
                write_atomic(self.meta.path, self.meta.data)
            except OSError:
                pass  # the transcript has the line; the sidecar gets it again when the session ends
        return record

    def close(self) -> None:
        self._drain(final=True)
        super().close()


def history_for_chat(messages: list[dict], tools: bool) -> list[dict]:
    """Earlier messages (a session continued from History) as the chat model gets them: the app's
    marks on tool messages (`status`, `asked`) removed; for a model without tool calling (or with
    tools off), each call and its result folded into the assistant's next words as a note in
    brackets, as no chat template of such a model renders tool messages."""
    out: list[dict] = []
    calls: dict[str, str] = {}  # call id -> "name {arguments}"
    notes: list[str] = []
    for m in messages:
        m = {k: v for k, v in dict(m).items() if k not in ("status", "asked")}
        role = m.get("role")
        if role == "tool":
            if tools:
                out.append(m)
            else:
                what = calls.get(str(m.get("tool_call_id")), str(m.get("name") or "a tool"))
                notes.append(f"[{what}: {' '.join(str(m.get('content') or '').split())}]")
            continue
        if m.get("tool_calls") and not tools:
            for c in m["tool_calls"]:
                f = c.get("function", {}) if isinstance(c, dict) else {}
                calls[str(c.get("id"))] = (f"{f.get('name', 'a tool')} "
                                           f"{json.dumps(f.get('arguments', {}), ensure_ascii=False, default=str)}")
            if not (m.get("content") or "").strip():
                continue
            m.pop("tool_calls")
        if notes and role == "assistant":
            m["content"] = " ".join(notes + [m.get("content") or ""]).strip()
            notes = []
        elif notes:
            out.append({"role": "assistant", "content": " ".join(notes)})
            notes = []
        out.append(m)
    if notes:
        out.append({"role": "assistant", "content": " ".join(notes)})
    return out
