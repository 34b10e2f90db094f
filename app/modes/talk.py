"""Talk: a full-duplex conversation with Moshi (or a PersonaPlex model). The page's controller:
settings, devices and the conversation engine (through LiveMode's EngineBridge: never MLX on the UI
thread), the live transcript and its export."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..fileops import atomic_copy, atomic_text
from ..jobs import Job
from ..messages import for_error
from ..persona_picker import PersonaPicker
from ..transcript import Transcript
from .live_mode import LiveMode
from .talk_page import TalkPage

SESSION_TITLE = "Conversation"


class TalkMode(LiveMode):
    id = "talk"
    label = "Talk"
    kinds = ("moshi", "personaplex", "moshivis")  # MoshiVis: with "Show an image…" (or none)
    verbs = ("Start Talking", "Stop Talking")
    what_for = ("Download one of Kyutai's Moshi models (about 5 GB for the 4-bit version), import a "
                "folder, or try the demo model (random weights: it only makes noise).")

    def __init__(self, shell) -> None:
        self.transcript = Transcript()
        self.last_conversation: int | None = None
        self._export_job: Job | None = None
        super().__init__(shell)
        p = self.page
        p.aec_check.setChecked(shell.settings.aec)
        p.aec_check.toggled.connect(lambda on: shell.update_settings(aec=bool(on)))
        p.export_button.clicked.connect(lambda: self.export())

    def build_page(self) -> TalkPage:
        from ..image_picker import ImagePicker

        self.persona = PersonaPicker(self)  # shown for PersonaPlex models only
        self.image = ImagePicker(self)  # shown for MoshiVis models only
        return TalkPage(self.model_picker, self.device_picker, self.persona.panel, self.image.panel)

    def show_model(self) -> None:
        super().show_model()
        from moshi_mlx.errors import MoshiError

        spec = self.prefs.model
        try:
            kind = self.backend.model_kind(spec, self.shell.settings.cache_dir or None) if spec else None
        except MoshiError:  # an unreadable config.json: Start says so
            kind = None
        self.persona.set_model(spec, kind)
        self.image.set_model(spec, kind)

    # -- conversation -------------------------------------------------------------------------
    def engine_options(self, model: str, record_dir: str | None) -> dict:
        s = self.shell.settings
        return dict(model=model, input_device=self.prefs.input_device or None,
                    output_device=self.prefs.output_device or None, aec=s.aec,
                    text_temperature=s.text_temperature, text_top_k=s.text_top_k,
                    audio_temperature=s.audio_temperature, audio_top_k=s.audio_top_k, seed=s.seed,
                    record_dir=record_dir, cache_dir=s.cache_dir or None,
                    kind_options={**(self.persona.kind_options() or {}), **(self.image.kind_options() or {})}
                    or None)

    def running_text(self) -> str:
        p = self.page
        persona = f" · {self.persona.describe()}" if self.persona.active else ""
        return f"Conversation on · {p.input_combo.currentText()} → {p.output_combo.currentText()}{persona}"

    def session_event(self, event) -> None:
        from moshi_mlx.engine.events import OptionsEvent, TextEvent

        if isinstance(event, OptionsEvent) and "image" in event.options:  # a new image is seen
            image = event.options["image"]
            self.show_state(f"{self.running_text()} · at {event.time_s:.1f} s: "
                            + (f"showing {Path(image).name}" if image else "no image"))
        elif isinstance(event, TextEvent):
            what, _line = self.transcript.add(event.text, event.time_s, event.conversation)
            self.page.transcript_view.add_piece(what, self.transcript, SESSION_TITLE, event.text)
            self.last_conversation = event.conversation

    def on_stopped(self, paths: list) -> None:
        super().on_stopped(paths)
        if self.persona.active and not any(v.origin == "model" for v in self.persona.voices):
            self.persona.refresh_voices()  # downloaded by this Start: its voices are there now

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
        job.succeeded.connect(lambda files: self.show_state(f"Exported {len(files)} file(s) to {folder}"))
        job.failed.connect(lambda m: self.messages.show(for_error("export", m)))
        self._export_job = job
        job.start()
        return job

    # -- theme, shutdown -----------------------------------------------------------------------
    def color_scheme_changed(self, *_args) -> None:
        self.page.transcript_view.render(self.transcript, SESSION_TITLE)

    def shutdown(self) -> None:
        super().shutdown()
        self.persona.shutdown()
        if self._export_job is not None and self._export_job.is_running():
            self._export_job.wait()
