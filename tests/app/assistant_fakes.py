"""A scripted assistant engine for the Assistant mode's tests: the API of
moshi_mlx.assistant.session.Assistant (start, send_text, interrupt, answer_consent, stop) and its
events, played on a worker thread of its own (the tests are about the app's wiring, not the models)."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from moshi_mlx.assistant.events import (AssistantReply, AssistantWord, ConsentRequest, PhaseEvent, ReminderEvent,
                                        ToolCallEvent, TurnStats, UserCaption, UserTurn)
from moshi_mlx.engine.events import StateEvent

from .conftest import FakeBackend


@dataclass
class Plan:
    """What the fake answers to a turn: a tool call first (when `tool`), then `reply`'s words."""

    reply: str
    tool: str = ""
    arguments: dict = field(default_factory=dict)
    consent: bool = False
    result: str = "ok"


REAL_TOOLS = ("set_timer", "set_reminder", "cancel_reminder", "list_reminders", "calculator")


class FakeAssistant:
    def __init__(self, backend: "AssistantBackend", listener) -> None:
        self.backend = backend
        self.emit = listener
        self.commands: queue.Queue = queue.Queue()
        self.interrupted = threading.Event()
        self.consent: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self.turn = 0
        self.recording_paths = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, options) -> None:
        self.options = options
        self.backend.options.append(options)
        if self.backend.start_error is not None:
            raise self.backend.start_error
        self._thread = threading.Thread(target=self._run, name="fake-assistant", daemon=True)
        self._thread.start()

    def send_text(self, text: str) -> None:
        self.backend.calls.append(("send_text", text))
        self.interrupted.set()  # a typed turn cuts the reply being spoken
        self.commands.put(("text", text))

    def speak(self, text: str) -> None:
        """A spoken turn (the test's microphone): captions word by word, then the turn."""
        self.commands.put(("speech", text))

    def interrupt(self) -> None:
        self.backend.calls.append(("interrupt", ""))
        self.interrupted.set()

    def hold_to_talk(self, held: bool) -> None:
        """Push-to-talk: key-down cuts the reply; key-up is the end of a spoken turn (the backend's
        `held_speech`, or no turn when it is empty)."""
        self.backend.calls.append(("hold", held))
        if held:
            self.interrupted.set()
        elif self.backend.held_speech:
            self.commands.put(("speech", self.backend.held_speech))

    def answer_consent(self, request_id: str, decision: str) -> None:
        self.backend.calls.append(("consent", f"{request_id}:{decision}"))
        self.consent.put((request_id, decision))

    def remind(self, reminder_id: str, text: str) -> None:
        self.commands.put(("remind", (reminder_id, text)))

    def stop(self) -> None:
        self.commands.put(("stop", None))
        self.consent.put(("", "stop"))  # a consent still awaited ends unanswered
        self.interrupted.set()
        if self._thread is not None:
            self._thread.join(10)

    # -- worker --------------------------------------------------------------------------------
    def _run(self) -> None:
        emit = self.emit
        emit(StateEvent("loading", "fake"))
        emit(StateEvent("ready", "fake"))
        emit(StateEvent("running", "fake"))
        emit(PhaseEvent("listening", 0))
        while True:
            what, arg = self.commands.get()
            if what == "stop":
                break
            if what == "remind":
                emit(ReminderEvent(arg[0], arg[1], 0.0))
                continue
            self.interrupted.clear()
            self.turn += 1
            if what == "speech":
                for w in arg.split():
                    emit(UserCaption(" " + w, self.turn, 0.1))
            emit(UserTurn(arg, self.turn, what == "text", 0.5))
            self._answer(arg)
            emit(PhaseEvent("listening", self.turn))
        emit(StateEvent("stopping"))
        emit(StateEvent("stopped"))

    def _answer(self, text: str) -> None:
        emit, turn = self.emit, self.turn
        plan = self.backend.plans.get(text, Plan(f"You said {text}."))
        emit(PhaseEvent("thinking", turn))
        if plan.tool and not self._tool(plan):
            return
        emit(PhaseEvent("speaking", turn))
        heard = []
        for i, word in enumerate(plan.reply.split()):
            if self.interrupted.is_set():
                break
            heard.append((" " if i else "") + word)
            emit(AssistantWord(heard[-1], turn, i * 0.3))
            if self.backend.hold_after is not None and i + 1 == self.backend.hold_after:
                self.interrupted.wait(10)
            else:
                self.interrupted.wait(0.01)
        cut = len(heard) < len(plan.reply.split())
        emit(AssistantReply(turn, plan.reply, plan.reply, "".join(heard), cut))
        emit(TurnStats(turn, {"e2e": 420.0}, 12, 30.0))

    def _tool(self, plan: Plan) -> bool:
        emit, turn = self.emit, self.turn
        call_id = f"call-{turn}"
        if plan.consent:
            emit(ToolCallEvent(turn, call_id, plan.tool, plan.arguments, "asking"))
            emit(ConsentRequest(f"req-{turn}", turn, plan.tool, plan.arguments, f"May I use {plan.tool}?"))
            emit(PhaseEvent("tool", turn))
            try:
                _rid, decision = self.consent.get(timeout=20)
            except queue.Empty:
                decision = "deny"
            if decision == "stop":
                emit(ToolCallEvent(turn, call_id, plan.tool, plan.arguments, "cancelled"))
                return False
            if decision == "deny":
                emit(ToolCallEvent(turn, call_id, plan.tool, plan.arguments, "denied", "denied by the user"))
                plan = Plan("All right, I won't.")
                emit(PhaseEvent("speaking", turn))
                emit(AssistantWord("All", turn, 0.0))
                emit(AssistantWord(" right.", turn, 0.3))
                emit(AssistantReply(turn, plan.reply, plan.reply, "All right.", False))
                return False
        emit(ToolCallEvent(turn, call_id, plan.tool, plan.arguments, "running"))
        result = plan.result
        if plan.tool in REAL_TOOLS and self.options.tools is not None:  # the session's real ToolBox
            result = self.options.tools.call(plan.tool, plan.arguments).text
        emit(ToolCallEvent(turn, call_id, plan.tool, plan.arguments, "done", result, 0.2))
        return True


class AssistantBackend(FakeBackend):
    """FakeBackend whose assistant is the FakeAssistant, answering `plans` (typed text -> Plan)."""

    def __init__(self, devices=None) -> None:
        super().__init__(devices)
        self.plans: dict[str, Plan] = {}
        self.hold_after: int | None = None  # the reply waits after this many words until interrupted
        self.held_speech = "what is the weather"  # said while the push-to-talk key was held
        self.assistants: list[FakeAssistant] = []

    def make_assistant(self, listener):
        engine = FakeAssistant(self, listener)
        self.assistants.append(engine)
        return engine
