"""Assistant: a local voice assistant (Kyutai STT -> an mlx-lm chat model -> Kyutai TTS, with tools).
Speak or type; the conversation shows as a chat with live captions, the word being heard, cut-off
replies and tool cards (consent asked on the card); Stop or Esc interrupts a reply. The engine is
moshi_mlx.assistant.session.Assistant, driven through the bridge on the MLX worker like the other
modes' engines; start checks, states and errors are LiveMode's."""

from __future__ import annotations

from PySide6.QtCore import Signal

from ..engine_bridge import EngineBridge
from ..messages import for_error
from .assistant_character import CUSTOM, CharacterPicker
from .assistant_history import tool_history
from .assistant_page import AssistantPage
from .assistant_reminders import ReminderPanel
from .assistant_tools import AssistantTools
from .base import RUNNING, demo_label, model_display_name
from .live_mode import LiveMode

DEMO_TRIO = ("demo-stt", "demo-llm", "demo-tts")
HOLD_TEXT = "Hold Control-Option-M to talk"


class AssistantMode(LiveMode):
    id = "assistant"
    label = "Assistant"
    kinds = ("stt", "tts", "llm")  # "llm": an mlx-lm chat model (not a moshi_mlx kind)
    verbs = ("Start Assistant", "End Assistant")
    tools_notice = Signal(str)  # the tools could not be set up as asked (control thread -> UI)
    what_for = ("Pick its three models (speech to text, a chat model, text to speech) in Models…, or "
                "try the demo trio (random weights: noise and random words).")

    def __init__(self, shell) -> None:
        self.phase = ""
        self.pending_text: list[str] = []  # typed before the session ran: sent once it does
        self.holding = False  # push-to-talk: the shortcut is held
        self.asked: set[str] = set()  # ids of the tool calls the user was asked about
        self.history: list[dict] = []  # the conversation so far, given to the next session's LLM
        self.tools = AssistantTools(self)
        super().__init__(shell)
        self.tools_notice.connect(lambda text: self.messages.show(for_error("tools", text)))
        p = self.page
        mp = self.model_picker
        mp.guide_demo_button.clicked.disconnect()
        mp.guide_demo_button.setText("Try the demo trio")
        mp.guide_demo_button.clicked.connect(lambda: self.set_trio(*DEMO_TRIO))
        p.input_edit.returnPressed.connect(lambda: self.send_typed())
        p.input_edit.textEdited.connect(self._typing)
        p.send_button.clicked.connect(lambda: self.send_typed())
        p.interrupt_button.clicked.connect(self.interrupt)
        p.escape.activated.connect(self.interrupt)
        p.new_button.clicked.connect(self.new_conversation)
        p.chat.consent_answered.connect(self.answer_consent)
        p.voice_combo.currentTextChanged.connect(lambda text: self.set_option("voice", text.strip()))
        self.character = CharacterPicker(self, p.character_combo)
        p.character_button.clicked.connect(lambda: self.edit_system_prompt())
        self.reminders = ReminderPanel(self)  # listed from reminders.json at once, before any session
        p.hold_check.setChecked(self.push_to_talk)
        p.hold_check.toggled.connect(lambda on: self.set_option("push_to_talk", bool(on)))

    def build_page(self) -> AssistantPage:
        return AssistantPage(self.model_picker, self.device_picker)

    def make_bridge(self) -> EngineBridge:
        return EngineBridge(self.backend, self, make_engine=self.backend.make_assistant,
                            make_options=self._make_options)

    def _make_options(self, tools: dict, **options):
        """AssistantOptions with this session's ToolBox (on the bridge's control thread: MCP servers
        start here). A config that cannot be used is said, and the session goes on without it."""
        from moshi_mlx.errors import MoshiError

        try:
            box = self.tools.make(tools)
        except (MoshiError, OSError) as e:
            self.tools_notice.emit(f"{e} The assistant starts without these MCP servers.")
            box = self.tools.make(dict(tools, mcp_config=None))
        return self.backend.make_assistant_options(tools=box, **options)

    def settings_pages(self, parent) -> list:
        from ..controllers.tools_settings import ToolsSettings

        self.tools_settings = ToolsSettings(self, parent)
        return [("Tools", self.tools_settings.panel)]

    # -- the model trio ------------------------------------------------------------------------
    def trio(self) -> tuple[str, str, str]:
        """(STT, LLM, TTS) specs; "" where none is chosen (no STT: typed turns only; no TTS: text
        replies only). The LLM is the mode's model (prefs.model)."""
        return self.option("stt", ""), self.prefs.model, self.option("tts", "")

    def set_trio(self, stt: str, llm: str, tts: str) -> bool:
        for spec, kind in ((stt, "stt"), (tts, "tts")):
            problem = self.kind_problem(spec, kind) if spec else ""
            if problem:
                self.messages.show(for_error("model_kind", problem))
                return False
        self.set_option("stt", stt)
        if tts != self.option("tts", ""):
            self.set_option("voice", "")  # another model's voices
        self.set_option("tts", tts)
        changed = llm != self.prefs.model
        self.update_prefs(model=llm)
        self.show_model()
        if changed:
            self.model_changed.emit(llm)
        return True

    def set_model(self, spec: str) -> bool:
        """A model chosen for this mode: an STT or TTS model takes its place in the trio, anything
        else is the chat model."""
        from moshi_mlx.errors import MoshiError

        try:
            kind = self.backend.model_kind(spec, self.shell.settings.cache_dir or None)
        except MoshiError:
            kind = None
        stt, llm, tts = self.trio()
        if kind == "stt":
            return self.set_trio(spec, llm, tts)
        if kind == "tts":
            return self.set_trio(stt, llm, spec)
        return self.set_trio(stt, spec, tts)

    def open_models(self):
        """The trio picker (the model manager for Kyutai's downloads is one button away)."""
        from ..sysinfo import total_memory_bytes
        from ..views.trio_dialog import TrioDialog
        from .assistant_models import TrioChoices

        dialog = TrioDialog(TrioChoices(self), self.trio(), total_memory_bytes(), self.page)
        dialog.manage_button.clicked.connect(lambda: self.shell.models.open(self))
        dialog.accepted.connect(lambda: self.set_trio(*dialog.trio()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.trio_dialog = dialog
        return dialog

    def open_downloads(self):
        """The model manager, for Kyutai's STT and TTS models."""
        return self.shell.models.open(self)

    def kind_problem(self, spec: str, kind: str | None = None) -> str:
        """'' when `spec` may be the trio's `kind` model (STT or TTS); chat models are mlx-lm's and
        are checked by the engine when loaded."""
        if kind is None:
            return ""
        saved, self.kinds = self.kinds, (kind,)
        try:
            return super().kind_problem(spec)
        finally:
            self.kinds = saved

    def demo_spec(self) -> str:
        return "demo-llm"

    def model_name(self, spec: str) -> str:
        if spec == "demo-llm":
            return "Demo chat model (random weights)"
        return demo_label(spec) or model_display_name(self.backend, spec)

    def fill_voices(self) -> None:
        """The TTS model's voices (its default first); the voice chosen is kept."""
        from moshi_mlx.errors import MoshiError

        tts = self.trio()[2]
        names: list[str] = []
        if tts and not self.kind_problem(tts, "tts"):
            try:
                names = self.backend.tts_voices(tts, self.shell.settings.cache_dir or None)[1]
            except (MoshiError, OSError):
                names = []  # an unreadable folder: the engine says so at Start
        combo = self.page.voice_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        combo.setEditText(self.option("voice", "") or (names[0] if names else ""))
        combo.blockSignals(False)

    def show_model(self) -> None:
        stt, llm, tts = self.trio()
        if hasattr(self, "page"):
            self.fill_voices()
        parts = [self.model_name(llm) if llm else "no chat model",
                 ("hears with " + self.model_name(stt)) if stt else "typed turns only",
                 ("speaks with " + self.model_name(tts)) if tts else "text replies only"]
        self.model_picker.show_model(" · ".join(parts), bool(llm))

    def edit_system_prompt(self, text: str | None = None) -> bool:
        """Your own system prompt (asked when `text` is None), saved and chosen."""
        return self.character.edit(text)

    # -- start ---------------------------------------------------------------------------------
    def startable_model(self, confirmed: bool = False, retry=None, microphone: bool = True) -> str:
        stt, llm, tts = self.trio()
        if not llm:
            self.open_models()
            return ""
        for spec, kind in ((stt, "stt"), (tts, "tts")):
            problem = self.kind_problem(spec, kind) if spec else ""
            if problem:
                self.messages.show(for_error("model_kind", problem))
                return ""
            known = self.shell.models.known_model(spec) if spec else None
            if known is not None and not self.backend.is_installed(known.repo_id, self.shell.settings.cache_dir or None):
                self.open_downloads().select_spec(known.repo_id)
                self.show_state(f"{known.label} is not downloaded yet: download it in Models")
                return ""
        return llm

    def engine_options(self, model: str, record_dir: str | None) -> dict:
        stt, llm, tts = self.trio()
        s = self.shell.settings
        preset = self.option("preset", "assistant")
        mic = (self.prefs.input_device or "default") if (stt and self.input_devices()) else None
        return dict(stt=stt or None, llm=llm, tts=tts or None,
                    voice=self.page.voice_combo.currentText().strip() or None,
                    preset="assistant" if preset == CUSTOM else preset,
                    system=(self.option("system", "") or None) if preset == CUSTOM else None,
                    seed=s.seed, input_device=mic,
                    output_device=(self.prefs.output_device or "default") if tts else None,
                    record_dir=record_dir, cache_dir=s.cache_dir or None, push_to_talk=self.push_to_talk and mic is not None,
                    history=list(self.history), tools=self.tools.toolbox_options())

    def session_starting(self) -> None:
        self.phase = ""
        self.asked = set()  # call ids start again with each session
        self.page.set_latency(None)

    def running_text(self) -> str:
        stt, _llm, _tts = self.trio()
        if not (stt and self.input_devices()):
            return "Type a message"
        return HOLD_TEXT if self.push_to_talk else "Listening"

    def listen(self) -> bool:
        """Start the assistant listening (the menu-bar item, from any app): its page becomes the
        active one (the global shortcut then ends it); the window is not brought forward."""
        self.shell.show_page(self.id)
        return self.running or self.start()

    # -- turns ---------------------------------------------------------------------------------
    def send_typed(self, text: str | None = None) -> bool:
        """Send a typed turn (the box's text when `text` is None); starts the assistant first when
        it is off. While it speaks, the reply is cut off."""
        edit = self.page.input_edit
        text = (edit.text() if text is None else text).strip()
        if not text:
            return False
        edit.clear()
        if self.state == RUNNING:
            self.bridge.call(lambda engine: engine.send_text(text))
            return True
        self.pending_text.append(text)
        if not self.running and not self.start():
            self.pending_text.clear()
            edit.setText(text)
            return False
        return True

    def _typing(self, _text: str) -> None:
        if self.phase == "speaking":
            self.interrupt()  # typing while it speaks cuts the reply

    def interrupt(self) -> None:
        """Stop the reply now (its words heard so far stay in the conversation)."""
        if self.state == RUNNING and self.phase in ("thinking", "speaking", "tool"):
            self.bridge.call(lambda engine: engine.interrupt())

    # -- push-to-talk ----------------------------------------------------------------------------
    @property
    def push_to_talk(self) -> bool:
        """The setting (off by default): the assistant hears the user only while the shortcut is held."""
        return bool(self.option("push_to_talk", False))

    @property
    def holds_to_talk(self) -> bool:
        return self.push_to_talk and bool(self.trio()[0])  # an STT to hear with

    def hold(self, held: bool) -> None:
        """The shortcut down: listen (starting the assistant when it is off; a reply being spoken is
        cut); up: the turn ends at once. A release before the session runs is dropped."""
        if held == self.holding:
            return
        self.holding = held
        if held:
            self.page.set_state_text("Listening while you hold the keys…")
            if self.state == RUNNING:
                self.bridge.call(lambda engine: engine.hold_to_talk(True))
            elif not self.running:
                self.start()  # the hold is sent once it runs (on_event), if still held
        elif self.state == RUNNING:
            self.bridge.call(lambda engine: engine.hold_to_talk(False))

    def answer_consent(self, request_id: str, decision: str) -> None:
        if self.state == RUNNING:
            self.bridge.call(lambda engine: engine.answer_consent(request_id, decision))

    def new_conversation(self) -> None:
        """Forget the conversation: the next session starts afresh (a running one is ended)."""
        if self.running:
            self.stop()
        self.history = []
        self.page.chat.clear()
        self.show_state("New conversation")

    def continue_conversation(self, messages: list[dict]) -> None:
        """Continue an earlier conversation: its messages go to the LLM at the next start."""
        self.new_conversation()
        from moshi_mlx.assistant.events import ToolCallEvent

        self.history = [dict(m) for m in messages]
        calls = {}  # call id -> the call, from the assistant message that made it
        for m in self.history:
            for c in m.get("tool_calls") or ():
                calls[c.get("id")] = c.get("function", {})
            if m.get("role") == "user":
                self.page.chat.user_turn(str(m.get("content", "")), 0, False)
            elif m.get("role") == "assistant" and m.get("content"):
                self.page.chat.reply_ended(0, str(m["content"]), str(m["content"]), bool(m.get("interrupted")))
            elif m.get("role") == "tool":  # its card, as it ended
                call = calls.get(m.get("tool_call_id"), {})
                status = m.get("status", "allowed")
                self.page.chat.tool_call(ToolCallEvent(
                    0, str(m.get("tool_call_id")), str(m.get("name") or call.get("name", "")),
                    dict(call.get("arguments") or {}), "done" if status == "allowed" else status,
                    str(m.get("content", "")).removeprefix("Error: ")))

    # -- engine events (UI thread) ----------------------------------------------------------------
    def on_event(self, event) -> None:
        from moshi_mlx.engine.events import ErrorEvent, StateEvent

        if isinstance(event, ErrorEvent) and not event.fatal:  # e.g. the LLM failed mid-reply: it listens again
            self.page.chat.note(f"Something went wrong: {event.message.splitlines()[0] if event.message else event.kind}")
            return
        super().on_event(event)
        if isinstance(event, StateEvent) and event.state == "running":
            texts, self.pending_text = self.pending_text, []
            for text in texts:
                self.bridge.call(lambda engine, t=text: engine.send_text(t))
            if self.holding:  # pressed while it started: held still
                self.bridge.call(lambda engine: engine.hold_to_talk(True))

    def session_event(self, event) -> None:
        from moshi_mlx.assistant import events as ev

        chat = self.page.chat
        if isinstance(event, ev.PhaseEvent):
            self.phase = event.phase
            self.page.set_phase(event.phase)
            if event.phase == "listening" and self.push_to_talk and not self.holding and self.running_text() == HOLD_TEXT:
                self.page.set_state_text(HOLD_TEXT)  # it hears nothing until the keys are held
            self.set_status(self.page.state_label.text())
        elif isinstance(event, ev.UserCaption):
            chat.user_caption(event.text, event.turn)
        elif isinstance(event, ev.UserTurn):
            chat.user_turn(event.text, event.turn, event.typed)
            self.history.append({"role": "user", "content": event.text})
        elif isinstance(event, ev.AssistantWord):
            chat.assistant_word(event.word, event.turn)
        elif isinstance(event, ev.AssistantReply):
            chat.reply_ended(event.turn, event.text, event.heard, event.interrupted)
            said = event.heard if (event.heard or event.interrupted) else event.text
            if said.strip():
                self.history.append({"role": "assistant", "content": said.strip()}
                                    | ({"interrupted": True} if event.interrupted else {}))
        elif isinstance(event, ev.ToolCallEvent):
            chat.tool_call(event)
            if event.state == "asking":
                self.asked.add(event.call_id)
            elif event.state in ("done", "error", "denied", "cancelled"):  # the next session's LLM reads it
                self.history += tool_history(event, event.call_id in self.asked)
            self.reminders.tool_call(event)
        elif isinstance(event, ev.ConsentRequest):
            chat.consent(event)
            if not self.shell.window.isVisible():
                self.shell.tray.notify(event.question)
        elif isinstance(event, ev.ReminderEvent):
            self.reminders.due(event.reminder_id, event.text)
        elif isinstance(event, ev.TurnStats):
            self.page.set_latency(event.latency_ms.get("e2e"))

    def on_stopped(self, paths: list) -> None:
        self.phase = ""
        self.pending_text = []
        self.holding = False
        super().on_stopped(paths)
        self.reminders.show()

    def shutdown(self) -> None:
        self.reminders.timer.stop()
        super().shutdown()
        self.tools.close()

