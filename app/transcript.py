"""Moshi's words as a transcript: timestamped lines, conversations separated, exportable as text.

Plain Python (no Qt): the view renders what this model holds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

NEW_LINE_GAP_S = 1.5  # a pause this long starts a new timestamped line
_SENTENCE_END = (".", "?", "!")


@dataclass
class Line:
    time_s: float  # conversation time of the line's first word
    text: str = ""


@dataclass
class Conversation:
    number: int
    started: float  # wall clock (time.time()) when it began
    lines: list[Line] = field(default_factory=list)


def format_clock(seconds: float) -> str:
    """Conversation time as m:ss (or h:mm:ss past an hour)."""
    s = max(0, int(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Transcript:
    """Collects text pieces; `add` says whether the piece opened a new line or conversation."""

    def __init__(self) -> None:
        self.conversations: list[Conversation] = []
        self._last_time = 0.0

    def begin(self, number: int, started: float | None = None) -> Conversation:
        conv = Conversation(number, time.time() if started is None else started)
        self.conversations.append(conv)
        self._last_time = 0.0
        return conv

    def add(self, text: str, time_s: float, conversation: int) -> tuple[str, Line]:
        """Append a piece. Returns (what, line): what is 'conversation' when the piece opened a new
        conversation, 'line' when it opened a new line, 'text' when it continued the last line."""
        what = "text"
        if not self.conversations or self.conversations[-1].number != conversation:
            self.begin(conversation)
            what = "conversation"
        conv = self.conversations[-1]
        last = conv.lines[-1] if conv.lines else None
        if (last is None or time_s - self._last_time >= NEW_LINE_GAP_S
                or last.text.rstrip().endswith(_SENTENCE_END)):
            last = Line(time_s, text.lstrip())
            conv.lines.append(last)
            what = "line" if what == "text" else what
        else:
            last.text += text
        self._last_time = time_s
        return what, last

    def is_empty(self) -> bool:
        return not any(c.lines for c in self.conversations)

    def clear(self) -> None:
        self.conversations.clear()

    def to_text(self, conversation: int | None = None) -> str:
        """The transcript as plain text (one conversation, or all of them)."""
        out = []
        for conv in self.conversations:
            if conversation is not None and conv.number != conversation:
                continue
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(conv.started))
            out.append(f"--- Conversation {conv.number} ({stamp}) ---")
            out.extend(f"[{format_clock(line.time_s)}] {line.text.strip()}" for line in conv.lines)
            out.append("")
        return "\n".join(out)
