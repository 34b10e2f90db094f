"""Keeping a live transcription: the microphone as a 24 kHz mono WAV and the transcript as text,
one paragraph per turn with its start time. Both are valid at every moment (the WAV header is
rewritten and the text flushed after each write), so a killed process leaves usable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine.recorder import Recorder
from .events import SttEvent
from .formats import Captions


class TranscriptRecorder(Recorder):
    """`transcript-<time>.wav` (the microphone) and `transcript-<time>.txt`."""

    def __init__(self, folder: str | Path, model: str, note: str = "", meta: dict | None = None):
        """`meta`: mode, kind, model (and model_name) for the History sidecar (engine/session_meta.py)."""
        super().__init__(folder, note, meta, name="transcript", channels=1, title=f"Transcript, {model},")
        self._captions = Captions()
        self._txt.write("\n")

    def write_audio(self, pcm: np.ndarray) -> None:
        self._wav.write(np.asarray(pcm, np.float32).reshape(-1, 1))

    def event(self, e: SttEvent) -> None:
        text = self._captions.text(e)
        if text:
            self._txt.write(text)
            self._txt.flush()

    def close(self) -> None:
        if not self._txt.closed:
            self._txt.write(self._captions.close())
        super().close()
