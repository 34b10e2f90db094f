"""Talk: a full-duplex conversation with Moshi (or a PersonaPlex model). The page's controller:
settings, devices and the conversation engine (through EngineBridge: never MLX on the UI thread)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from ..engine_bridge import EngineBridge
from ..fileops import atomic_copy, atomic_text
from ..jobs import Job
from ..messages import for_error, memory_warning
from ..sysinfo import total_memory_bytes
from ..transcript import Transcript
from .base import BUSY, IDLE, RUNNING, Mode
from .talk_page import TalkPage

_STATE_TEXT = {"loading": "Loading the model…", "ready": "Model loaded", "running": "Conversation on",
               "stopping": "Stopping…", "stopped": "Ready"}
_JOB_TEXT = {"download": "Downloading the model", "load model": "Loading the model", "warm-up": "Warming up"}


class TalkMode(Mode):
    id = "talk"
    label = "Talk"
    kinds = ("moshi", "personaplex")
    verbs = ("Start Talking", "Stop Talking")
    what_for = ("Download one of Kyutai's Moshi models (about 5 GB for the 4-bit version), import a "
                "folder, or try the demo model (random weights: it only makes noise).")

    def __init__(self, shell) -> None:
        self.transcript = Transcript()
        self._stop_requested = False  # one stop per conversation: its `stopped` ends it
        self.last_recordings: list[str] = []
        self.last_conversation: int | None = None
        self.last_running_detail = ""
        self._export_job: Job | None = None
        super().__init__(shell)
        self.bridge = EngineBridge(self.backend, self)
        p = self.page
        p.start_button.clicked.connect(self.toggle)
        p.aec_check.setChecked(shell.settings.aec)
        p.aec_check.toggled.connect(lambda on: shell.update_settings(aec=bool(on)))
        p.record_check.setChecked(shell.settings.auto_record)
        p.export_button.clicked.connect(lambda: self.export())
        self.bridge.event.connect(self.on_event)
        self.bridge.start_failed.connect(self.on_start_failed)
        self.bridge.stopped.connect(self.on_stopped)
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self.color_scheme_changed)
        p.set_running(False)

    def build_page(self) -> TalkPage:
        return TalkPage(self.model_picker, self.device_picker)

    def settings_changed(self) -> None:
        self.page.record_check.setChecked(self.shell.settings.auto_record)

    # -- conversation -------------------------------------------------------------------------
    def start(self, confirmed: bool = False) -> bool:
        """Start a conversation. Returns False when it did not start (no model, a model of another
        kind or not downloaded, no microphone, or a memory warning awaiting the user)."""
        if self.running:
            return False
        model = self.prefs.model
        if not model:
            self.open_models()
            return False
        problem = self.kind_problem(model)
        if problem:
            self.messages.show(for_error("model_kind", problem))
            return False
        if not self.input_devices():
            self.messages.show(for_error("no_input_device", ""))
            return False
        s = self.shell.settings
        known = self.shell.models.known_model(model)
        if known is not None and not self.backend.is_installed(known.repo_id, s.cache_dir or None):
            # Downloads belong in the model manager (disk check, progress, cancel), not in Start.
            self.open_models().select_spec(known.repo_id)
            self.page.set_state_text(f"{known.label} is not downloaded yet: download it in Models")
            return False
        if not confirmed and known is not None:
            level, sentence = self.backend.recommend(known, total_memory_bytes())
            if level == "too_big":
                self.messages.ask(memory_warning(known.label, sentence),
                                  lambda: self.start(confirmed=True), "Load Anyway")
                return False
        record = self.page.record_check.isChecked()
        record_dir = Path(s.record_dir).expanduser()
        if record:
            record_dir.mkdir(parents=True, exist_ok=True)
        self._stop_requested = False
        self.last_recordings = []
        self.page.reset_stats()
        self.page.set_running(True, busy=True)
        self.set_state(BUSY)
        self._show_state("Starting…")
        self.bridge.start(
            model=model, input_device=self.prefs.input_device or None,
            output_device=self.prefs.output_device or None, aec=s.aec,
            text_temperature=s.text_temperature, text_top_k=s.text_top_k,
            audio_temperature=s.audio_temperature, audio_top_k=s.audio_top_k, seed=s.seed,
            record_dir=str(record_dir) if record else None, cache_dir=s.cache_dir or None)
        return True

    def stop(self) -> None:
        if not self.running:
            return
        self.page.set_running(True, busy=True)
        self.set_state(BUSY)
        self._show_state("Stopping…")
        self._request_stop()

    def _request_stop(self) -> None:
        if self.running and not self._stop_requested:
            self._stop_requested = True
            self.bridge.stop()

    def _show_state(self, text: str) -> None:
        self.page.set_state_text(text)
        self.set_status(text)

    @Slot(object)
    def on_event(self, event) -> None:
        from moshi_mlx.engine.events import (ErrorEvent, LevelEvent, ProgressEvent, StateEvent,
                                             StatsEvent, TextEvent)

        p = self.page
        if isinstance(event, LevelEvent):
            p.set_levels(event.input_db, event.output_db)
        elif isinstance(event, TextEvent):
            what, line = self.transcript.add(event.text, event.time_s, event.conversation)
            if what == "conversation":
                p.add_conversation_separator(event.conversation, self.transcript.conversations[-1].started)
            p.add_transcript(what, line, event.text)
            self.last_conversation = event.conversation
        elif isinstance(event, StatsEvent):
            p.set_stats(event.real_time_factor, event.latency_ms, event.dropped_frames, event.underruns)
        elif isinstance(event, ProgressEvent):
            pct = f" {100 * event.done / event.total:.0f}%" if event.total else "…"
            self._show_state(_JOB_TEXT.get(event.job, event.job.capitalize()) + pct)
        elif isinstance(event, StateEvent):
            self._on_state(event)
        elif isinstance(event, ErrorEvent):
            self.messages.show(for_error(event.kind, event.message))
            if event.fatal:
                self._request_stop()  # makes sure the engine is down; `stopped` resets the page

    def _on_state(self, event) -> None:
        if event.state == "stopped":
            self._request_stop()  # ended on its own (error, device lost): collect it, reset the page
        text = _STATE_TEXT.get(event.state, event.state)
        if event.state == "running":
            self.last_running_detail = event.detail  # devices, rates, echo cancellation
            self.page.state_label.setToolTip(event.detail)
            self.page.set_running(True, busy=False)
            self.set_state(RUNNING)
            p = self.page
            text = f"Conversation on · {p.input_combo.currentText()} → {p.output_combo.currentText()}"
        elif event.detail:
            text += f" ({event.detail})"
        self._show_state(text)

    @Slot(str, str)
    def on_start_failed(self, kind: str, message: str) -> None:
        self.messages.show(for_error(kind, message))
        self._request_stop()

    @Slot(list)
    def on_stopped(self, paths: list) -> None:
        if paths:
            self.last_recordings = list(paths)
        self.page.set_running(False)
        self._show_state("Ready")
        self.set_state(IDLE)
        if paths:
            self.session_recorded.emit(list(paths))

    # -- export -------------------------------------------------------------------------------
    def export(self, folder: str | None = None) -> Job | None:
        """Copy the last conversation's recordings and its transcript into `folder` (asked when
        None). Runs as a background job; returns it."""
        if self.transcript.is_empty() and not self.last_recordings:
            self.messages.show(for_error("export", "There is no conversation to export yet."))
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.page, "Export conversation to",
                                                      self.shell.settings.record_dir)
            if not folder:
                return None
        text = self.transcript.to_text(self.last_conversation)
        sources = [p for p in self.last_recordings if Path(p).is_file()]
        stamp = time.strftime("%Y%m%d-%H%M%S")

        def work(progress, cancel) -> list[str]:
            out = Path(folder)
            out.mkdir(parents=True, exist_ok=True)
            written = [str(atomic_text(out / f"moshi-{stamp}-transcript.txt", text))]
            for i, src in enumerate(sources):
                written.append(str(atomic_copy(src, out / f"moshi-{stamp}-{Path(src).name}")))
                progress(i + 1, len(sources))
            return written

        job = Job("export", work, self)
        job.succeeded.connect(lambda files: self._show_state(f"Exported {len(files)} file(s) to {folder}"))
        job.failed.connect(lambda m: self.messages.show(for_error("export", m)))
        self._export_job = job
        job.start()
        return job

    # -- theme, shutdown -----------------------------------------------------------------------
    def color_scheme_changed(self, *_args) -> None:
        self.page.render_transcript(self.transcript)

    def shutdown(self) -> None:
        self._show_state("Closing…")
        self.bridge.shutdown()
        self.set_state(IDLE)
        if self._export_job is not None and self._export_job.is_running():
            self._export_job.wait()
