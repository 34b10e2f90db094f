"""Keeping a live transcription: the microphone as a 24 kHz mono WAV and the transcript as text,
one paragraph per turn with its start time. Both are valid at every moment (the WAV header is
rewritten and the text flushed after each write), so a killed process leaves usable files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..engine.recorder import IncrementalWav
from .events import EndOfTurn, SttEvent, TextPiece
from .formats import stamp


class TranscriptRecorder:
    def __init__(self, folder: str | Path, model: str, note: str = ""):
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        name = time.strftime("transcript-%Y%m%d-%H%M%S")
        base, n = folder / name, 1
        while base.with_suffix(".wav").exists() or base.with_suffix(".txt").exists():
            n += 1
            base = folder / f"{name}-{n}"
        self.paths = {"wav": base.with_suffix(".wav"), "transcript": base.with_suffix(".txt")}
        self._wav = IncrementalWav(self.paths["wav"], channels=1)
        self._txt = open(self.paths["transcript"], "x", encoding="utf-8")
        self._txt.write(f"# Transcript {time.strftime('%Y-%m-%d %H:%M:%S')}, {model}"
                        + (f" ({note})" if note else "") + "\n")
        self._txt.flush()
        self._line_open = False

    def write_audio(self, pcm: np.ndarray) -> None:
        self._wav.write(np.asarray(pcm, np.float32).reshape(-1, 1))

    def event(self, e: SttEvent) -> None:
        if isinstance(e, TextPiece):
            if not self._line_open:
                self._txt.write(f"\n[{stamp(e.time, '.')}] " + e.text.lstrip())
                self._line_open = True
            else:
                self._txt.write(e.text)
        elif isinstance(e, EndOfTurn) and self._line_open:
            self._txt.write("\n")
            self._line_open = False
        else:
            return
        self._txt.flush()

    def close(self) -> None:
        self._wav.close()
        if not self._txt.closed:
            if self._line_open:
                self._txt.write("\n")
            self._txt.close()
