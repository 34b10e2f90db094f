"""Recording a conversation: a 2-channel WAV (user, Moshi) and a timestamped transcript.

Both files are valid at every moment: the WAV header's sizes are rewritten after each frame is
appended and the transcript is flushed after each piece, so a killed process leaves playable files.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np

from .. import SAMPLE_RATE


class IncrementalWav:
    """16-bit PCM WAV whose header is kept up to date after every write."""

    def __init__(self, path: Path, channels: int, rate: int = SAMPLE_RATE):
        self.path, self.channels, self.rate = path, channels, rate
        self._f = open(path, "wb")
        self._data_bytes = 0
        self._f.write(self._header())
        self._f.flush()

    def _header(self) -> bytes:
        block = 2 * self.channels
        return (b"RIFF" + struct.pack("<I", 36 + self._data_bytes) + b"WAVE"
                + b"fmt " + struct.pack("<IHHIIHH", 16, 1, self.channels, self.rate,
                                        self.rate * block, block, 16)
                + b"data" + struct.pack("<I", self._data_bytes))

    def write(self, frames: np.ndarray) -> None:
        """frames: [n, channels] float32 in [-1, 1]."""
        pcm = (np.clip(frames, -1.0, 1.0) * 32767.0).astype("<i2")
        self._f.write(pcm.tobytes())
        self._data_bytes += pcm.nbytes
        self._f.seek(4)
        self._f.write(struct.pack("<I", 36 + self._data_bytes))
        self._f.seek(40)
        self._f.write(struct.pack("<I", self._data_bytes))
        self._f.seek(0, 2)
        self._f.flush()

    @property
    def seconds(self) -> float:
        return self._data_bytes / (2 * self.channels * self.rate)

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


def _stamp(seconds: float) -> str:
    m, s = divmod(seconds, 60.0)
    h, m = divmod(int(m), 60)
    return f"{h:02d}:{m:02d}:{s:06.3f}"


class Recorder:
    """`conversation-<time>.wav` (channel 1 user, channel 2 Moshi) and `conversation-<time>.txt`."""

    PAUSE_S = 1.0  # a new transcript line after this much silence from Moshi

    def __init__(self, folder: str | Path, note: str = "", *, name: str = "conversation", channels: int = 2,
                 title: str = "Moshi conversation"):
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        base = folder / time.strftime(f"{name}-%Y%m%d-%H%M%S")
        n = 1
        while base.with_suffix(".wav").exists():
            n += 1
            base = folder / (time.strftime(f"{name}-%Y%m%d-%H%M%S") + f"-{n}")
        self.paths = {"wav": base.with_suffix(".wav"), "transcript": base.with_suffix(".txt")}
        self._wav = IncrementalWav(self.paths["wav"], channels=channels)
        self._txt = open(self.paths["transcript"], "w", encoding="utf-8")
        self._txt.write(f"# {title} {time.strftime('%Y-%m-%d %H:%M:%S')}"
                        + (f" ({note})" if note else "") + "\n")
        self._txt.flush()
        self._last_text_s = -1e9
        self._line_open = False
        self._stereo = np.zeros((0, 2), np.float32)

    def write_frame(self, user: np.ndarray, moshi: np.ndarray) -> None:
        if self._stereo.shape[0] != len(user):
            self._stereo = np.zeros((len(user), 2), np.float32)
        self._stereo[:, 0] = user
        self._stereo[:, 1] = moshi
        self._wav.write(self._stereo)

    def write_text(self, text: str, time_s: float) -> None:
        if not text:
            return
        if not self._line_open or time_s - self._last_text_s > self.PAUSE_S:
            self._txt.write(("\n" if self._line_open else "") + f"[{_stamp(time_s)}] " + text.lstrip())
            self._line_open = True
        else:
            self._txt.write(text)
        self._last_text_s = time_s
        self._txt.flush()

    def close(self) -> None:
        self._wav.close()
        if not self._txt.closed:
            if self._line_open:
                self._txt.write("\n")
            self._txt.close()
