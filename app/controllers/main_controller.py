"""Wires the main window to the settings, the devices and the conversation engine."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from ..backend import Backend
from ..engine_bridge import EngineBridge
from ..jobs import Job
from ..messages import for_error, memory_warning
from ..settings import AppSettings, SettingsStore
from ..sysinfo import total_memory_bytes
from ..transcript import Transcript
from ..views.main_window import MainWindow
from ..views.settings_dialog import SettingsDialog
from .dialogs import MessagePresenter
from .models_controller import ModelsController, model_display_name

_STATE_TEXT = {"loading": "Loading the model…", "ready": "Model loaded", "running": "Conversation on",
               "stopping": "Stopping…", "stopped": "Ready"}
_JOB_TEXT = {"download": "Downloading the model", "load model": "Loading the model", "warm-up": "Warming up"}


class MainController(QObject):
    def __init__(self, window: MainWindow, store: SettingsStore, backend: Backend | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.store = store
        self.backend = backend or Backend()
        self.settings: AppSettings = store.load()
        self.messages = MessagePresenter(window)
        self.transcript = Transcript()
        self.bridge = EngineBridge(self.backend, self)
        self.models = ModelsController(self)
        self.running = False  # a conversation is on (or starting)
        self._stop_requested = False  # one stop per conversation: its `stopped` ends it
        self.last_recordings: list[str] = []
        self.last_conversation: int | None = None
        self.last_running_detail = ""
        self.devices: list = []
        self._export_job: Job | None = None
        self._closed = False
        w = window
        w.start_button.clicked.connect(self.toggle_conversation)
        w.refresh_button.clicked.connect(lambda: self.refresh_devices(refresh=True))
        w.input_combo.activated.connect(self._devices_chosen)
        w.output_combo.activated.connect(self._devices_chosen)
        w.aec_check.toggled.connect(self._aec_toggled)
        w.record_check.setChecked(self.settings.auto_record)
        w.aec_check.setChecked(self.settings.aec)
        w.export_button.clicked.connect(lambda: self.export())
        w.export_action.triggered.connect(lambda: self.export())
        w.settings_action.triggered.connect(self.open_settings)
        w.models_button.clicked.connect(self.models.open)
        w.models_action.triggered.connect(self.models.open)
        w.guide_models_button.clicked.connect(self.models.open)
        w.guide_demo_button.clicked.connect(lambda: self.set_model(self.backend.demo_spec()))
        w.quit_action.triggered.connect(w.close)
        w.closing.connect(self.shutdown)
        self.bridge.event.connect(self.on_event)
        self.bridge.start_failed.connect(self.on_start_failed)
        self.bridge.stopped.connect(self.on_stopped)
        self.models.model_chosen.connect(self.set_model)
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._color_scheme_changed)
        self.refresh_devices(refresh=False)
        self._show_model()
        w.set_running(False)

    # -- settings -----------------------------------------------------------------------------
    def update_settings(self, **changes) -> None:
        self.settings = self.settings.replace(**changes)
        self.store.save(self.settings)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self.window)

        def accepted() -> None:
            new = dialog.result_settings()
            self.update_settings(**{k: getattr(new, k) for k in (
                "text_temperature", "text_top_k", "audio_temperature", "audio_top_k", "seed",
                "record_dir", "auto_record")})
            self.window.record_check.setChecked(self.settings.auto_record)

        dialog.accepted.connect(accepted)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    # -- model --------------------------------------------------------------------------------
    @Slot(str)
    def set_model(self, spec: str) -> None:
        self.update_settings(model=spec)
        self._show_model()

    def _show_model(self) -> None:
        spec = self.settings.model
        self.window.guide.setVisible(not spec)
        self.window.set_model_text(model_display_name(self.backend, spec) if spec else
                                   "No model yet: open Models… to get one")

    # -- devices ------------------------------------------------------------------------------
    def refresh_devices(self, refresh: bool = True) -> None:
        """Re-read the audio devices (while no conversation runs); keeps the current choices."""
        if self.running:
            return
        try:
            self.devices = self.backend.list_devices(refresh=refresh)
        except Exception as e:  # PortAudio missing or failing: shown, app keeps going
            self.devices = []
            self.messages.show(for_error("no_input_device", str(e)))
        self._fill_combo(self.window.input_combo, "input", self.settings.input_device)
        self._fill_combo(self.window.output_combo, "output", self.settings.output_device)

    def _fill_combo(self, combo, kind: str, chosen: str) -> None:
        usable = [d for d in self.devices
                  if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
        default = next((d for d in usable if (d.is_default_input if kind == "input"
                                               else d.is_default_output)), None)
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(f"System default ({default.name})" if default else "System default", "")
        for d in usable:
            combo.addItem(d.name + ("  (built-in)" if d.is_builtin else ""), d.name)
        index = combo.findData(chosen) if chosen else 0
        if chosen and index < 0:  # remembered device not plugged in now: keep it listed
            combo.addItem(f"{chosen} (not connected)", chosen)
            index = combo.count() - 1
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def input_devices(self) -> list:
        return [d for d in self.devices if d.max_input_channels > 0]

    @Slot()
    def _devices_chosen(self, *_args) -> None:
        self.update_settings(input_device=self.window.input_combo.currentData() or "",
                             output_device=self.window.output_combo.currentData() or "")

    @Slot(bool)
    def _aec_toggled(self, on: bool) -> None:
        self.update_settings(aec=bool(on))

    # -- conversation -------------------------------------------------------------------------
    @Slot()
    def toggle_conversation(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self, confirmed: bool = False) -> bool:
        """Start a conversation with the current settings. Returns False when it did not start
        (no model, model not downloaded, no microphone, or a memory warning awaiting the user)."""
        if self.running:
            return False
        if not self.settings.model:
            self.models.open()
            return False
        if not self.input_devices():
            self.messages.show(for_error("no_input_device", ""))
            return False
        known = self.models.known_model(self.settings.model)
        if known is not None and not self.backend.is_installed(known.repo_id, self.settings.cache_dir or None):
            # Downloads belong in the model manager (disk check, progress, cancel), not in Start.
            self.models.open().select_spec(known.repo_id)
            self.window.set_state_text(f"{known.label} is not downloaded yet: download it in Models")
            return False
        if not confirmed:
            if known is not None:
                level, sentence = self.backend.recommend(known, total_memory_bytes())
                if level == "too_big":
                    self.messages.ask(memory_warning(known.label, sentence),
                                      lambda: self.start(confirmed=True), "Load Anyway")
                    return False
        s = self.settings
        record = self.window.record_check.isChecked()
        if record:
            Path(s.record_dir).expanduser().mkdir(parents=True, exist_ok=True)
        self.running = True
        self._stop_requested = False
        self.last_recordings = []
        self.window.reset_stats()
        self.window.set_running(True, busy=True)
        self.window.set_state_text("Starting…")
        self.bridge.start(
            model=s.model, input_device=s.input_device or None, output_device=s.output_device or None,
            aec=s.aec, text_temperature=s.text_temperature, text_top_k=s.text_top_k,
            audio_temperature=s.audio_temperature, audio_top_k=s.audio_top_k, seed=s.seed,
            record_dir=str(Path(s.record_dir).expanduser()) if record else None,
            cache_dir=s.cache_dir or None)
        return True

    def stop(self) -> None:
        if not self.running:
            return
        self.window.set_running(True, busy=True)
        self.window.set_state_text("Stopping…")
        self._request_stop()

    def _request_stop(self) -> None:
        if self.running and not self._stop_requested:
            self._stop_requested = True
            self.bridge.stop()

    @Slot(object)
    def on_event(self, event) -> None:
        from moshi_mlx.engine.events import (ErrorEvent, LevelEvent, ProgressEvent, StateEvent,
                                             StatsEvent, TextEvent)

        w = self.window
        if isinstance(event, LevelEvent):
            w.set_levels(event.input_db, event.output_db)
        elif isinstance(event, TextEvent):
            what, line = self.transcript.add(event.text, event.time_s, event.conversation)
            if what == "conversation":
                w.add_conversation_separator(event.conversation, self.transcript.conversations[-1].started)
            w.add_transcript(what, line, event.text)
            self.last_conversation = event.conversation
        elif isinstance(event, StatsEvent):
            w.set_stats(event.real_time_factor, event.latency_ms, event.dropped_frames, event.underruns)
        elif isinstance(event, ProgressEvent):
            pct = f" {100 * event.done / event.total:.0f}%" if event.total else "…"
            w.set_state_text(_JOB_TEXT.get(event.job, event.job.capitalize()) + pct)
        elif isinstance(event, StateEvent):
            self._on_state(event)
        elif isinstance(event, ErrorEvent):
            self.messages.show(for_error(event.kind, event.message))
            if event.fatal:
                self._request_stop()  # makes sure the engine is down; `stopped` resets the window

    def _on_state(self, event) -> None:
        if event.state == "stopped":
            self._request_stop()  # ended on its own (error, device lost): collect it, reset the window
        text = _STATE_TEXT.get(event.state, event.state)
        if event.state == "running":
            self.last_running_detail = event.detail  # devices, rates, echo cancellation
            self.window.state_label.setToolTip(event.detail)
            self.window.set_running(True, busy=False)
            devices = f"{self.window.input_combo.currentText()} → {self.window.output_combo.currentText()}"
            text = f"Conversation on · {devices}"
        self.window.set_state_text(text + (f" ({event.detail})" if event.detail and event.state != "running" else ""))

    @Slot(str, str)
    def on_start_failed(self, kind: str, message: str) -> None:
        self.messages.show(for_error(kind, message))
        self._request_stop()

    @Slot(list)
    def on_stopped(self, paths: list) -> None:
        self.running = False
        if paths:
            self.last_recordings = list(paths)
        self.window.set_running(False)
        self.window.set_state_text("Ready")

    # -- export -------------------------------------------------------------------------------
    def export(self, folder: str | None = None) -> Job | None:
        """Copy the last conversation's recordings and its transcript into `folder` (asked when
        None). Runs as a background job; returns it."""
        if self.transcript.is_empty() and not self.last_recordings:
            self.messages.show(for_error("export", "There is no conversation to export yet."))
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.window, "Export conversation to",
                                                      self.settings.record_dir)
            if not folder:
                return None
        text = self.transcript.to_text(self.last_conversation)
        sources = [p for p in self.last_recordings if Path(p).is_file()]
        stamp = time.strftime("%Y%m%d-%H%M%S")

        def work(progress, cancel) -> list[str]:
            out = Path(folder)
            out.mkdir(parents=True, exist_ok=True)
            written = []
            target = out / f"moshi-{stamp}-transcript.txt"
            tmp = target.with_name("." + target.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
            written.append(str(target))
            for i, src in enumerate(sources):
                dst = out / f"moshi-{stamp}-{Path(src).name}"
                tmp = dst.with_name("." + dst.name + ".tmp")
                shutil.copyfile(src, tmp)
                os.replace(tmp, dst)
                written.append(str(dst))
                progress(i + 1, len(sources))
            return written

        job = Job("export", work, self)
        job.succeeded.connect(lambda files: self.window.set_state_text(
            f"Exported {len(files)} file(s) to {folder}"))
        job.failed.connect(lambda m: self.messages.show(for_error("export", m)))
        self._export_job = job
        job.start()
        return job

    # -- theme, shutdown -----------------------------------------------------------------------
    def _color_scheme_changed(self, *_args) -> None:
        self.window.render_transcript(self.transcript)

    @Slot()
    def shutdown(self) -> None:
        """Window closing: stop the conversation and background jobs cleanly, save settings."""
        if self._closed:
            return
        self._closed = True
        self.window.set_state_text("Closing…")
        self.bridge.shutdown()
        self.running = False
        self.models.shutdown()
        if self._export_job is not None and self._export_job.is_running():
            self._export_job.wait()
        self.store.save(self.settings)
