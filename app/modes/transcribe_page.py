"""The Transcribe page: model and microphone on top, the captions (timestamped paragraphs), a file
transcription's progress with Cancel, the microphone level, Start/Stop, Record, Transcribe a File…,
Copy, Export…, and a status line. Audio files dropped anywhere on the page are transcribed.
Layout only; app/modes/transcribe.py wires it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QProgressBar, QPushButton, QWidget

from ..views.live_text import LiveTextView
from ..views.mode_parts import DevicePicker, ElidedLabel, ModelPicker, SessionPage, big_button

EMPTY_TEXT = ("Captions appear here as you speak, a paragraph per turn.\n\n"
              "To transcribe a recording, drop an audio file on this page (WAV, FLAC, MP3, OGG…) "
              "or use Transcribe a File….")


def local_files(mime) -> list[str]:
    """The local files a drag carries (none for text, web links...)."""
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and Path(u.toLocalFile()).is_file()]


class TranscribePage(SessionPage):
    files_dropped = Signal(list)  # paths of local files dropped on the page

    def __init__(self, model_picker: ModelPicker, device_picker: DevicePicker) -> None:
        super().__init__(model_picker, device_picker, [("Level", "Microphone level")], "Transcription state",
                         ("rtf", "dropped"))
        self.setAcceptDrops(True)
        self.file_busy = False  # a file is being transcribed
        outer = self.outer

        self.captions = LiveTextView("Captions", EMPTY_TEXT)
        self.captions.setAcceptDrops(False)  # drops go to the page
        outer.addWidget(self.captions, 1)

        self.file_row = QWidget()
        file_layout = QHBoxLayout(self.file_row)
        file_layout.setContentsMargins(0, 0, 0, 0)
        self.file_label = ElidedLabel("")
        self.file_label.setAccessibleName("File transcription")
        self.file_progress = QProgressBar()
        self.file_progress.setRange(0, 1000)
        self.file_progress.setAccessibleName("File transcription progress")
        self.file_progress.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the file transcription")
        file_layout.addWidget(self.file_label, 1)
        file_layout.addWidget(self.file_progress)
        file_layout.addWidget(self.cancel_button)
        self.file_row.setVisible(False)
        outer.addWidget(self.file_row)

        self.input_meter = self.meters.meters[0]
        outer.addWidget(self.meters)

        controls = QHBoxLayout()
        controls.setSpacing(10)
        self.start_button = big_button("Start Transcribing", 200)
        self.record_check = QCheckBox("Record")
        self.record_check.setToolTip("Keep the audio and the captions in the recordings folder (listed in History)")
        self.file_button = QPushButton("Transcribe a File…")
        self.file_button.setToolTip("Transcribe an audio file (or drop one on this page)")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the captions, with their times, to the clipboard")
        self.copy_button.setAccessibleName("Copy the captions")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the transcript as text (.txt) or subtitles (.srt)")
        self.export_button.setAccessibleName("Export the transcript")
        controls.addStretch(1)
        for w in (self.start_button, self.record_check, self.file_button, self.copy_button, self.export_button):
            controls.addWidget(w)
        controls.addStretch(1)
        outer.addLayout(controls)

        self.rtf_label, self.dropped_label = self.status.labels["rtf"], self.status.labels["dropped"]
        outer.addWidget(self.status)
        self.set_document(False, False)

    # -- state shown ---------------------------------------------------------------------------------
    def set_running(self, running: bool, busy: bool = False) -> None:
        """running: live captions are on (the button says Stop); busy: starting or stopping."""
        self.start_button.setText("Stop Transcribing" if running else "Start Transcribing")
        self.start_button.setEnabled(not busy and not self.file_busy)
        self.lock_setup(running or busy)
        self.file_button.setEnabled(not running and not busy and not self.file_busy)

    def set_file_job(self, visible: bool, text: str = "", fraction: float | None = None) -> None:
        """The file transcription's row: its text and progress (None: busy indicator)."""
        self.file_busy = visible
        self.file_row.setVisible(visible)
        self.file_label.setText(text)
        if fraction is None:
            self.file_progress.setRange(0, 0)
        else:
            self.file_progress.setRange(0, 1000)
            self.file_progress.setValue(int(round(1000 * min(1.0, max(0.0, fraction)))))
        self.file_button.setEnabled(not visible and self.start_button.text() == "Start Transcribing")
        self.start_button.setEnabled(not visible)

    def set_document(self, has_text: bool, has_words: bool) -> None:
        self.copy_button.setEnabled(has_text)
        self.export_button.setEnabled(has_words)

    # -- drag and drop -------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if local_files(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if local_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = local_files(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.files_dropped.emit(files)
