"""What the assistant engine tells its listener, from the MLX worker thread (plain data, no MLX).

Besides these, the lifecycle events of every engine (engine/events.py): StateEvent ("loading",
"ready", "running", "stopping", "stopped"), ProgressEvent (download, load, compile), ErrorEvent
(fatal or not: an LLM failing mid-reply is not fatal, the session listens again) and LevelEvent.
Turns are numbered from 1 in a session; a user turn and the reply to it share the number.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhaseEvent:
    """What the assistant is doing now: "listening", "thinking" (LLM before its first word),
    "speaking", "tool" (waiting on a tool call)."""

    phase: str
    turn: int


@dataclass(frozen=True)
class UserCaption:
    """A piece of the user's words as the STT writes them (leading space kept), for live captions."""

    text: str
    turn: int
    time_s: float  # session time of the audio it came from


@dataclass(frozen=True)
class UserTurn:
    """The user's finished turn, as it goes to the LLM."""

    text: str
    turn: int
    typed: bool  # send_text() rather than speech
    time_s: float


@dataclass(frozen=True)
class AssistantWord:
    """A word of the reply as it is heard (reaches the speaker; written, without a device), with
    its leading space; in order. Without speech (no TTS), as the LLM writes it."""

    word: str
    turn: int
    time_s: float


@dataclass(frozen=True)
class AssistantReply:
    """A reply ended. `text`: as the model wrote it (tool-call markup aside); `spoken`: the text
    given to the TTS; `heard`: what was heard before it ended (all of `spoken` unless cut off);
    the conversation history keeps `heard`, marked when `interrupted`."""

    turn: int
    text: str
    spoken: str
    heard: str
    interrupted: bool


@dataclass(frozen=True)
class ToolCallEvent:
    """A tool call's progress: state "asking" (consent pending), "running", "done", "denied",
    "error", "cancelled". `arguments` as the model gave them; `result` a short text once ended."""

    turn: int
    call_id: str
    name: str
    arguments: dict
    state: str
    result: str | None = None
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class ConsentRequest:
    """A tool call that needs the user's yes. Answer with `Assistant.answer_consent(request_id,
    decision)`, decision "once", "always" or "deny" (or by voice: yes / no). Text from a tool or
    from the model never answers it."""

    request_id: str
    turn: int
    name: str
    arguments: dict
    question: str  # "May I open https://example.com?"


@dataclass(frozen=True)
class ReminderEvent:
    """A timer or reminder is due (it is also spoken)."""

    reminder_id: str
    text: str
    due_s: float  # time.time() it was due


@dataclass(frozen=True)
class TurnStats:
    """Latency of one turn, in ms: "e2e" (end of the user's speech -> first audio of the reply),
    "end_of_turn", "stt_flush", "llm_first_word", "tts_first_audio"; missing parts are absent."""

    turn: int
    latency_ms: dict = field(default_factory=dict)
    llm_tokens: int = 0
    llm_tokens_per_s: float = 0.0
    underruns: int = 0


AssistantEvent = (PhaseEvent | UserCaption | UserTurn | AssistantWord | AssistantReply | ToolCallEvent
                  | ConsentRequest | ReminderEvent | TurnStats)
