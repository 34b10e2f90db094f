""""Use my voice…": 5–10 s of the user speaking, recorded from the chosen microphone.

MicCapture's PortAudio callback only copies into a buffer allocated up front (it never blocks or
allocates); the dialog polls it with a timer and stops at MAX_SECONDS. The recording is then made
into a voice on the MLX worker by the persona picker (never here: no MLX in the app)."""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QVBoxLayout)

MIN_SECONDS, MAX_SECONDS = 5.0, 10.0


def open_sounddevice_input(device, callback):
    """A mono sounddevice InputStream on `device` (index, name or None = default), 24 kHz when it
    accepts it. Returns (stream, rate)."""
    import sounddevice as sd

    from moshi_mlx.audio.devices import find_device, pick_samplerate

    dev = find_device(device, "input")
    rate = pick_samplerate(dev, "input", 1)
    stream = sd.InputStream(device=dev.index, channels=1, samplerate=rate, blocksize=int(rate * 0.04),
                            dtype="float32", callback=callback)
    return stream, rate


class MicCapture:
    """Up to `max_s` seconds of mono float32 from one input device."""

    def __init__(self, device=None, max_s: float = MAX_SECONDS, open_stream: Callable | None = None):
        opener = open_stream or (lambda cb: open_sounddevice_input(device, cb))
        self._stream, self.rate = opener(self._callback)
        self._buffer = np.zeros(int(self.rate * max_s), np.float32)
        self._written = 0

    def _callback(self, indata, frames, time_info, status) -> None:
        n = min(frames, len(self._buffer) - self._written)
        if n > 0:
            self._buffer[self._written:self._written + n] = indata[:n, 0]
            self._written += n

    @property
    def seconds(self) -> float:
        return self._written / self.rate

    @property
    def full(self) -> bool:
        return self._written >= len(self._buffer)

    def start(self) -> None:
        self._stream.start()

    def stop(self) -> np.ndarray:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception:  # noqa: BLE001 - a device that vanished cannot be closed twice
            pass
        return self._buffer[:self._written].copy()


class RecordVoiceDialog(QDialog):
    """Name the voice, record, stop (or 10 s), save: emits voice_recorded(name, pcm, rate)."""

    voice_recorded = Signal(str, object, int)

    def __init__(self, parent, device, taken: set[str], open_stream: Callable | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Use My Voice")
        self.device, self.taken, self._open_stream = device, taken, open_stream
        self.capture: MicCapture | None = None
        self.pcm: np.ndarray | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Speak naturally for {MIN_SECONDS:.0f}–{MAX_SECONDS:.0f} seconds: "
                                "the model will answer with this voice."))
        self.name_edit = QLineEdit("My voice")
        self.name_edit.setAccessibleName("Voice name")
        layout.addWidget(self.name_edit)
        self.record_button = QPushButton("Record")
        self.record_button.setAccessibleName("Record or stop")
        layout.addWidget(self.record_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, int(MAX_SECONDS * 10))
        self.progress.setAccessibleName("Recorded time")
        layout.addWidget(self.progress)
        self.status_label = QLabel("")
        self.status_label.setAccessibleName("Recording status")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setEnabled(False)
        layout.addWidget(self.buttons)
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._tick)
        self.record_button.clicked.connect(self.toggle)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

    def toggle(self) -> None:
        if self.capture is None:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        try:
            self.capture = MicCapture(self.device, MAX_SECONDS, self._open_stream)
            self.capture.start()
        except Exception as e:  # noqa: BLE001 - no microphone, PortAudio refusing: said, not raised
            self.capture = None
            self.status_label.setText(f"The microphone cannot be opened: {e}")
            return
        self.pcm = None
        self.save_button.setEnabled(False)
        self.record_button.setText("Stop")
        self.status_label.setText("Recording…")
        self.timer.start()

    def _tick(self) -> None:
        if self.capture is None:
            return
        self.progress.setValue(int(self.capture.seconds * 10))
        if self.capture.full:
            self.stop()

    def stop(self) -> None:
        capture, self.capture = self.capture, None
        self.timer.stop()
        self.record_button.setText("Record again")
        if capture is None:
            return
        pcm = capture.stop()
        seconds = len(pcm) / capture.rate
        self.progress.setValue(int(seconds * 10))
        if seconds < MIN_SECONDS:
            self.status_label.setText(f"Only {seconds:.1f} s: record at least {MIN_SECONDS:.0f} s.")
            return
        self.pcm, self.rate = pcm, capture.rate
        self.save_button.setEnabled(True)
        self.status_label.setText(f"{seconds:.1f} s recorded. Save it, or record again.")

    def save(self) -> None:
        name = self.name_edit.text().strip()
        if name in self.taken:
            self.status_label.setText(f"There is already a voice named {name!r}: choose another name.")
            return
        if not name or self.pcm is None:
            self.status_label.setText("Record your voice and give it a name first.")
            return
        self.voice_recorded.emit(name, self.pcm, self.rate)
        self.accept()

    def reject(self) -> None:
        if self.capture is not None:
            self.capture.stop()
            self.capture = None
        self.timer.stop()
        super().reject()
