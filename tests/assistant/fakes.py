"""A scripted chat model with ChatLLM's interface (assistant/llm.py), for exact engine tests: each
reply a fixed text given a few characters per step, tool calls and failures where asked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    text: str = ""
    done: bool = False
    tool_call: object | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class Call:
    call_id: str
    name: str
    arguments: dict


class ScriptedChat:
    """`replies`: per begin_reply, a str (its text) or a list of str / Call (a tool call) / Exception
    (raised by that step)."""

    supports_tools = True

    def __init__(self, replies, chunk: int = 3):
        self.replies = list(replies)
        self.chunk = chunk
        self.messages: list[dict] = []
        self.steps = 0
        self._queue: list = []
        self.open = False

    def begin_reply(self, user_text):
        if user_text is not None:
            assert not self.open, "begin_reply(user) while a reply is open"
            self.messages.append({"role": "user", "content": user_text})
        self.open = True
        self.calls = []
        script = self.replies.pop(0) if self.replies else "Okay."
        items = script if isinstance(script, list) else [script]
        self._queue = []
        for item in items:
            if isinstance(item, str):
                self._queue += [item[i:i + self.chunk] for i in range(0, len(item), self.chunk)]
            else:
                self._queue.append(item)

    def step(self):
        self.steps += 1
        item = self._queue.pop(0) if self._queue else None
        if isinstance(item, Exception):
            raise item
        if isinstance(item, Call):
            self.calls.append(item)
            return Piece(tool_call=item)
        if item is None:
            return Piece("", True, None, "stop")
        return Piece(item)

    @property
    def replying(self):
        return self.open

    def add_tool_result(self, call, result: str):
        if self.open:
            self.end_reply()
        self.messages.append({"role": "tool", "name": call.name, "content": result})

    def end_reply(self, heard=None, interrupted=False):
        assert self.open
        self.open = False
        message = {"role": "assistant", "content": heard, "interrupted": interrupted}
        if self.calls:
            message["tool_calls"] = [c.name for c in self.calls]
        self.messages.append(message)


@dataclass(frozen=True)
class Result:
    text: str
    is_error: bool = False


@dataclass(frozen=True)
class Reminder:
    reminder_id: str
    text: str
    due_s: float


class FakeToolBox:
    """ToolBox's interface: `open_url` needs consent; `slow` takes `delay` s (or until cancelled)."""

    def __init__(self, delay: float = 0.0, reminders=()):
        import threading

        self.delay = delay
        self.calls: list[tuple] = []
        self.allowed: set[str] = set()
        self.cancelled = threading.Event()
        self.reminders = list(reminders)

    def schemas(self):
        return [{"type": "function", "function": {"name": n, "parameters": {}}} for n in ("open_url", "slow")]

    def needs_consent(self, name):
        return name == "open_url" and name not in self.allowed

    def question(self, name, arguments):
        return f"May I open {arguments.get('url')}?"

    def allow_always(self, name):
        self.allowed.add(name)

    def call(self, name, arguments, cancel):
        self.calls.append((name, arguments))
        if cancel.wait(self.delay):
            self.cancelled.set()
            return Result("cancelled", True)
        return Result(f"{name} ok")

    def due_reminders(self, now):
        due, self.reminders = self.reminders, []
        return due

    def close(self):
        pass
