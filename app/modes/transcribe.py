"""Transcribe: live captions from the microphone with Kyutai's STT models, and audio files
("Transcribe a File…" or dropped on the page) with progress and Cancel; copy and export (.txt,
.srt); recorded sessions land in History. The live engine (moshi_mlx.stt.live.LiveTranscription)
and the file jobs share its loaded model and the one MLX worker thread: a file waits for a session
running there (in any mode) to end, and the page says so."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from ..captions import CaptionDocument
from ..engine_bridge import EngineBridge
from ..file_transcription import FileJob
from ..messages import for_error
from ..sysinfo import format_duration
from ..transcript import format_clock
from .base import BUSY
from .live_mode import LiveMode
from .transcribe_page import TranscribePage

USED_BY = "the Transcribe mode"
AUDIO_FILTER = "Audio files (*.wav *.flac *.mp3 *.ogg *.opus *.m4a *.aiff *.aif);;All files (*)"


class TranscribeMode(LiveMode):
    id = "transcribe"
    label = "Transcribe"
    kinds = ("stt",)
    verbs = ("Start Transcribing", "Stop Transcribing")
    what_for = ("Download one of Kyutai's speech-to-text models (2.4 GB for the 1B, English and "
                "French), import a folder, or try the demo model (random weights: random words).")
    uses_output = False

    def __init__(self, shell) -> None:
        self.document = CaptionDocument()  # the live session's or the file's shown on the page
        self.file_job: FileJob | None = None
        super().__init__(shell)
        p = self.page
        p.file_button.clicked.connect(lambda: self.transcribe_file())
        p.cancel_button.clicked.connect(self.cancel_file)
        p.copy_button.clicked.connect(self.copy)
        p.export_button.clicked.connect(lambda: self.export())
        p.files_dropped.connect(self.files_dropped)

    def build_page(self) -> TranscribePage:
        return TranscribePage(self.model_picker, self.device_picker)

    def make_bridge(self) -> EngineBridge:
        return EngineBridge(self.backend, self, self.backend.make_transcription, self.backend.make_listen_options)

    def listen_options(self, model: str, record_dir: str | None = None) -> dict:
        return dict(model=model, input_device=self.prefs.input_device or None,
                    cache_dir=self.shell.settings.cache_dir or None, record_dir=record_dir, used_by=USED_BY)

    def engine_options(self, model: str, record_dir: str | None) -> dict:
        return self.listen_options(model, record_dir)

    def running_text(self) -> str:
        return f"Transcribing · {self.page.device_picker.input_combo.currentText()}"

    # -- the document shown --------------------------------------------------------------------------
    def new_document(self, source: str = "") -> None:
        self.document = CaptionDocument(source)
        self.page.captions.clear()
        if source:
            self.page.captions.add_separator(Path(source).name)
        self.document_changed()

    def session_starting(self) -> None:
        self.new_document()

    def session_event(self, event) -> None:
        self.show_events([event])

    def show_events(self, events: list) -> None:
        view, doc = self.page.captions, self.document
        for event in events:
            what, text = doc.add(event)
            if what == "paragraph":
                view.add_line(format_clock(doc.paragraphs[-1].time_s), text, gap=len(doc.paragraphs) > 1)
            elif what == "text":
                view.append(text)
        self.document_changed()

    def document_changed(self) -> None:
        """Copy needs captions; Export the finished words, once no session or file adds more."""
        busy = self.running or (self.file_job is not None and self.file_job.is_running())
        self.page.set_document(bool(self.document.paragraphs), self.document.has_words and not busy)

    def color_scheme_changed(self, *_args) -> None:
        self.render()

    def render(self) -> None:
        """Draw the document again (after a light/dark switch: colours are re-read)."""
        view, doc = self.page.captions, self.document
        view.clear()
        if doc.source:
            view.add_separator(Path(doc.source).name)
        for i, para in enumerate(doc.paragraphs):
            view.add_line(format_clock(para.time_s), para.text, gap=i > 0)

    def on_stopped(self, paths: list) -> None:
        super().on_stopped(paths)
        self.document_changed()

    # -- files -------------------------------------------------------------------------------------
    @Slot(list)
    def files_dropped(self, paths: list) -> None:
        if len(paths) > 1:
            self.messages.show(for_error("transcribe_file", (
                f"{len(paths)} files were dropped; the app transcribes one file at a time (drop a "
                "single file, or use `python -m moshi_mlx transcribe` for many).")))
            return
        self.transcribe_file(paths[0])

    def transcribe_file(self, path: str | None = None, confirmed: bool = False) -> FileJob | None:
        """Transcribe an audio file (asked for when None) in the background; returns its job
        (None: it did not start, the user was told why)."""
        if self.file_job is not None and self.file_job.is_running():
            self.messages.show(for_error("transcribe_file", "A file is already being transcribed: "
                                         "wait for it or cancel it first."))
            return None
        if self.running:
            self.messages.show(for_error("transcribe_file", "Live captions are on: stop them first "
                                         "(one transcription runs at a time)."))
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.page, "Transcribe an audio file", "", AUDIO_FILTER)
            if not path:
                return None
        from moshi_mlx.errors import MoshiError

        try:
            duration = self.backend.check_audio_file(path)  # the header only: quick
        except MoshiError as e:
            self.messages.show(for_error("transcribe_file", str(e)))
            return None
        model = self.startable_model(confirmed, lambda: self.transcribe_file(path, confirmed=True), microphone=False)
        if not model:
            return None
        job = FileJob(path, self)
        name = Path(path).name
        self.new_document(path)
        waiting = " (waiting for the session running in another mode to end: one runs at a time)" \
            if self.shell.any_running() else ""
        self.page.set_file_job(True, f"{name}: {format_clock(duration)} of audio{waiting}…", None)
        job.started.connect(lambda: self.page.set_file_job(True, f"{name}: loading the model…", None))
        job.events.connect(self.show_events)
        job.progress.connect(lambda done, total, speed: self._file_progress(name, done, total, speed))
        job.ended.connect(lambda outcome, payload: self._file_ended(job, outcome, payload))
        self.file_job = job
        job.start(self.bridge, self.backend.make_listen_options(**self.listen_options(model)))
        return job

    def _file_progress(self, name: str, done: float, total: float, speed: float) -> None:
        left = (total - done) / speed if speed > 0 else None
        self.page.set_file_job(True, f"{name}: {format_clock(done)} of {format_clock(total)} · {speed:.1f}x "
                               f"real time · {format_duration(left)} left", done / total if total else None)

    def _file_ended(self, job: FileJob, outcome: str, payload) -> None:
        name = Path(job.path).name
        self.page.set_file_job(False)
        self.page.set_running(self.running, busy=self.state == BUSY)
        if outcome == "succeeded":
            self.document.duration = payload.duration
            self.document_changed()
            self.show_state(f"Transcribed {name}: {format_clock(payload.duration)} of audio in "
                            f"{payload.seconds:.1f} s ({payload.speed:.1f}x real time)")
            return
        self.new_document()  # a cancelled or failed file leaves nothing behind
        if outcome == "cancelled":
            self.show_state(f"Transcription of {name} cancelled")
        else:
            kind, message = payload
            self.messages.show(for_error(kind, message))
            self.show_state(f"Transcription of {name} failed")

    @Slot()
    def cancel_file(self) -> None:
        if self.file_job is not None and self.file_job.is_running():
            self.file_job.cancel()
            self.page.set_file_job(True, "Cancelling…", None)

    def start(self, confirmed: bool = False) -> bool:
        if self.file_job is not None and self.file_job.is_running():
            self.show_state("A file is being transcribed: cancel it or wait for it first")
            return False
        return super().start(confirmed)

    # -- copy, export ------------------------------------------------------------------------------
    def copy(self) -> str:
        text = self.document.text()
        QGuiApplication.clipboard().setText(text)
        self.show_state("Captions copied")
        return text

    def export(self, path: str | None = None) -> str | None:
        """Save the transcript as .txt or .srt (the format from the suffix; asked when None)."""
        if not self.document.has_words:
            self.messages.show(for_error("export", "There is no transcript to export yet."))
            return None
        if path is None:
            stem = Path(self.document.source).stem if self.document.source else time.strftime("transcript-%Y%m%d-%H%M%S")
            folder = Path(self.document.source).parent if self.document.source else Path(self.shell.settings.record_dir)
            path, chosen = QFileDialog.getSaveFileName(self.page, "Export the transcript", str(folder / f"{stem}.txt"),
                                                       "Text (*.txt);;Subtitles (*.srt)")
            if not path:
                return None
            if Path(path).suffix.lower() not in (".txt", ".srt"):
                path += ".srt" if "srt" in chosen else ".txt"
                if Path(path).exists():  # a name the dialog did not ask about: never replaced
                    self.messages.show(for_error("export", f"{path} already exists: choose another name."))
                    return None
        fmt = Path(path).suffix.lower().lstrip(".")
        try:
            written = self.document.export(path, fmt)
        except (OSError, ValueError) as e:
            self.messages.show(for_error("export", f"{path}: {getattr(e, 'strerror', None) or e}"))
            return None
        self.show_state(f"Exported {Path(written).name}")
        return written

    def shutdown(self) -> None:
        if self.file_job is not None and self.file_job.is_running():
            self.file_job.wait()
        super().shutdown()
