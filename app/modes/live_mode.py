"""What the live modes share (Transcribe, Translate): a session runs an engine on the MLX worker
through an EngineBridge, never on the UI thread. This class checks a Start (a model of the right
kind, downloaded, a microphone, enough memory), records into the recordings folder when asked,
shows the engine's states, loading progress, levels, statistics and errors, stops, and hands the
session's recordings to History. A subclass gives its bridge and engine options, and shows the
events that are its own (captions, translated text).

Its page provides: start_button, record_check, set_running(running, busy), set_state_text(text),
set_levels(input_db, output_db), set_stats(StatsEvent), reset_stats().
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication

from ..engine_bridge import EngineBridge
from ..messages import for_error, memory_warning
from ..sysinfo import total_memory_bytes
from .base import BUSY, IDLE, RUNNING, Mode

_STATE_TEXT = {"loading": "Loading the model…", "ready": "Model loaded", "stopping": "Stopping…",
               "stopped": "Ready"}
_JOB_TEXT = {"download": "Downloading the model", "load model": "Loading the model", "warm-up": "Warming up"}


class LiveMode(Mode):
    def __init__(self, shell) -> None:
        self._stop_requested = False  # one stop per session: its `stopped` ends it
        self.last_recordings: list[str] = []
        self.last_running_detail = ""
        super().__init__(shell)
        self.bridge = self.make_bridge()
        self.bridge.event.connect(self.on_event)
        self.bridge.start_failed.connect(self.on_start_failed)
        self.bridge.stopped.connect(self.on_stopped)
        p = self.page
        p.start_button.clicked.connect(self.toggle)
        self._auto_record = shell.settings.auto_record
        p.record_check.setChecked(self.option("record", self._auto_record))
        p.record_check.toggled.connect(lambda on: self.set_option("record", bool(on)))
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self.color_scheme_changed)
        p.set_running(False)

    # -- what a live mode implements --------------------------------------------------------------
    def make_bridge(self) -> EngineBridge:
        return EngineBridge(self.backend, self)

    def engine_options(self, model: str, record_dir: str | None) -> dict:
        """The keyword arguments of the bridge's options for a session with `model`."""
        raise NotImplementedError

    def session_starting(self) -> None:
        """A session is about to start: reset what the page shows of the last one."""

    def running_text(self) -> str:
        """The status line while the session runs."""
        return "On"

    def session_event(self, event) -> None:
        """An event of the engine that is the mode's own (text, captions...)."""

    def color_scheme_changed(self, *_args) -> None:
        """Light/dark switch: redraw what was drawn with palette colours."""

    def settings_changed(self) -> None:
        """Settings' "Record every session" changed: every mode's Record box follows it."""
        if self.shell.settings.auto_record != self._auto_record:
            self._auto_record = self.shell.settings.auto_record
            self.page.record_check.setChecked(self._auto_record)

    # -- start --------------------------------------------------------------------------------------
    def startable_model(self, confirmed: bool = False, retry=None, microphone: bool = True) -> str:
        """The model to start with, or "" when a Start cannot go on (no model yet, another kind,
        not downloaded, no microphone, a memory warning awaiting the user): the user was told.
        `retry()` runs when the user accepts the memory warning (default: start(confirmed=True))."""
        model = self.prefs.model
        if not model:
            self.open_models()
            return ""
        problem = self.kind_problem(model)
        if problem:
            self.messages.show(for_error("model_kind", problem))
            return ""
        if microphone and not self.input_devices():
            self.messages.show(for_error("no_input_device", ""))
            return ""
        known = self.shell.models.known_model(model)
        if known is not None and not self.backend.is_installed(known.repo_id, self.shell.settings.cache_dir or None):
            # Downloads belong in the model manager (disk check, progress, cancel), not in Start.
            self.open_models().select_spec(known.repo_id)
            self.show_state(f"{known.label} is not downloaded yet: download it in Models")
            return ""
        if not confirmed and known is not None:
            level, sentence = self.backend.recommend(known, total_memory_bytes())
            if level == "too_big":
                self.messages.ask(memory_warning(known.label, sentence),
                                  retry or (lambda: self.start(confirmed=True)), "Load Anyway")
                return ""
        return model

    def start(self, confirmed: bool = False) -> bool:
        if self.running:
            return False
        model = self.startable_model(confirmed)
        if not model:
            return False
        record_dir = None
        if self.page.record_check.isChecked():
            folder = Path(self.shell.settings.record_dir).expanduser()
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                self.messages.show(for_error("record_dir", f"{folder}: {e.strerror or e}"))
                return False
            record_dir = str(folder)
        self._stop_requested = False
        self.last_recordings = []
        self.session_starting()
        self.page.reset_stats()
        self.page.set_running(True, busy=True)
        self.set_state(BUSY)
        self.show_state("Starting…")
        self.bridge.start(**self.engine_options(model, record_dir))
        return True

    def stop(self) -> None:
        if not self.running:
            return
        self.page.set_running(True, busy=True)
        self.set_state(BUSY)
        self.show_state("Stopping…")
        self._request_stop()

    def _request_stop(self) -> None:
        if self.running and not self._stop_requested:
            self._stop_requested = True
            self.bridge.stop()

    def show_state(self, text: str) -> None:
        self.page.set_state_text(text)
        self.set_status(text)

    # -- engine events (UI thread, queued by the bridge) ---------------------------------------------
    @Slot(object)
    def on_event(self, event) -> None:
        from moshi_mlx.engine.events import ErrorEvent, LevelEvent, ProgressEvent, StateEvent, StatsEvent

        if isinstance(event, LevelEvent):
            self.page.set_levels(event.input_db, event.output_db)
        elif isinstance(event, StatsEvent):
            self.page.set_stats(event)
        elif isinstance(event, ProgressEvent):
            pct = f" {100 * event.done / event.total:.0f}%" if event.total else "…"
            self.show_state(_JOB_TEXT.get(event.job, event.job.capitalize()) + pct)
        elif isinstance(event, StateEvent):
            self._on_state(event)
        elif isinstance(event, ErrorEvent):
            self.messages.show(for_error(event.kind, event.message))
            if event.fatal:
                self._request_stop()  # makes sure the engine is down; `stopped` resets the page
        else:
            self.session_event(event)

    def _on_state(self, event) -> None:
        if event.state == "stopped":
            self._request_stop()  # ended on its own (error, device lost): collect it, reset the page
        if event.state == "running":
            self.last_running_detail = event.detail  # devices, rates, echo cancellation
            self.page.state_label.setToolTip(event.detail)
            self.page.set_running(True, busy=False)
            self.set_state(RUNNING)
            self.show_state(self.running_text())
            return
        text = _STATE_TEXT.get(event.state, event.state)
        self.show_state(text + (f" ({event.detail})" if event.detail and event.state != "stopped" else ""))

    @Slot(str, str)
    def on_start_failed(self, kind: str, message: str) -> None:
        self.messages.show(for_error(kind, message))
        self._request_stop()

    @Slot(list)
    def on_stopped(self, paths: list) -> None:
        if paths:
            self.last_recordings = list(paths)
        self.page.set_running(False)
        self.show_state("Ready")
        self.set_state(IDLE)
        if paths:
            self.session_recorded.emit(list(paths))

    def shutdown(self) -> None:
        self.show_state("Closing…")
        self.bridge.shutdown()
        self.set_state(IDLE)
