"""Keeping a reading for History: the speech as a 24 kHz mono WAV and its words as a timestamped
transcript (a new line after a pause or every few seconds), with the session's JSON sidecar
(engine/session_meta.py). Both files are valid at every moment, as every recording (recorder.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import FRAME_RATE
from ..engine.recorder import Recorder
from .synth import SpokenWord


class ReadingRecorder(Recorder):
    """`reading-<time>.wav` (the speech) and `reading-<time>.txt` (its words)."""

    def __init__(self, folder: str | Path, model: str, note: str = "", meta: dict | None = None):
        """`meta`: mode, kind, model (and model_name) for the History sidecar."""
        super().__init__(folder, note, meta, name="reading", channels=1, title=f"Read aloud, {model},")

    def write_audio(self, pcm: np.ndarray) -> None:
        self._wav.write(np.asarray(pcm, np.float32).reshape(-1, 1))

    def word(self, w: SpokenWord) -> None:
        self.write_text(" " + w.text, w.frame / FRAME_RATE)
