"""Recording a conversation: a 2-channel WAV (user, Moshi) and a timestamped transcript.

Both files are valid at every moment: the WAV header's sizes are rewritten after each frame is
appended and the transcript is flushed after each piece, so a killed process leaves playable files.
"""

from __future__ import annotations

import os
import struct
import shutil
import time
from typing import Callable
from pathlib import Path

import numpy as np

from .. import SAMPLE_RATE


class IncrementalWav:
    """16-bit PCM WAV whose header is kept up to date after every write.

    The header reserves a 28-byte JUNK chunk (as EBU Tech 3306 recommends), so that when the file
    passes the 4 GiB that 32-bit RIFF sizes can count (12.4 hours of two-channel 24 kHz audio) the
    same header becomes RF64 (`ds64` chunk with 64-bit sizes) and the recording goes on. Each update
    rewrites the whole 80-byte header in one write, after the samples it counts are written, so the
    file is valid at every moment."""

    HEADER_BYTES = 80
    _MAX32 = 0xFFFFFFFF

    def __init__(self, path: Path, channels: int, rate: int = SAMPLE_RATE):
        self.path, self.channels, self.rate = path, channels, rate
        self._f = open(path, "wb")
        self._data_bytes = 0
        self._f.write(self._header())
        self._f.flush()

    def _header(self) -> bytes:
        block = 2 * self.channels
        fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, self.channels, self.rate, self.rate * block, block, 16)
        riff_size = self.HEADER_BYTES - 8 + self._data_bytes
        if riff_size <= self._MAX32:
            return (b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + b"JUNK" + struct.pack("<I", 28)
                    + bytes(28) + fmt + b"data" + struct.pack("<I", self._data_bytes))
        ds64 = struct.pack("<QQQI", riff_size, self._data_bytes, self._data_bytes // block, 0)
        return (b"RF64" + struct.pack("<I", self._MAX32) + b"WAVE" + b"ds64" + struct.pack("<I", 28)
                + ds64 + fmt + b"data" + struct.pack("<I", self._MAX32))

    def write(self, frames: np.ndarray) -> None:
        """frames: [n, channels] float32 in [-1, 1]."""
        pcm = (np.clip(frames, -1.0, 1.0) * 32767.0).astype("<i2")
        self._f.write(pcm.tobytes())
        self._f.flush()  # the samples are in the file before the header counts them
        self._data_bytes += pcm.nbytes
        os.pwrite(self._f.fileno(), self._header(), 0)

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
    LINE_S = 5.0  # or, at the next word, once a line has run this long (timestamps to jump to)

    def __init__(self, folder: str | Path, note: str = "", meta: dict | None = None, *,
                 name: str = "conversation", channels: int = 2, title: str = "Moshi conversation",
                 clock: Callable[[], float] = time.time):
        """`meta`: mode, kind, model (and model_name) for the session's JSON sidecar (session_meta.py);
        `name`: the files' stem; `channels`: 2 = (user, model), 1 = the microphone alone;
        `clock`: seconds since the epoch, which names the files (tests pass their own)."""
        now = time.localtime(clock())
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        base = folder / time.strftime(f"{name}-%Y%m%d-%H%M%S", now)
        n = 1
        while base.with_suffix(".wav").exists():
            n += 1
            base = folder / (time.strftime(f"{name}-%Y%m%d-%H%M%S", now) + f"-{n}")
        self.base = base
        self.paths = {"wav": base.with_suffix(".wav"), "transcript": base.with_suffix(".txt")}
        self._wav = IncrementalWav(self.paths["wav"], channels=channels)
        self._txt = open(self.paths["transcript"], "w", encoding="utf-8")
        self._txt.write(f"# {title} {time.strftime('%Y-%m-%d %H:%M:%S', now)}"
                        + (f" ({note})" if note else "") + "\n")
        self._txt.flush()
        self.meta = None
        if meta is not None:
            from .session_meta import SessionMeta

            self.meta = SessionMeta(base, wav=self.paths["wav"], transcript=self.paths["transcript"],
                                    clock=clock, **meta)
        self._last_text_s = -1e9
        self._line_start_s = 0.0
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
        if (not self._line_open or time_s - self._last_text_s > self.PAUSE_S
                or (time_s - self._line_start_s >= self.LINE_S and text.startswith(" "))):
            self._txt.write(("\n" if self._line_open else "") + f"[{_stamp(time_s)}] " + text.lstrip())
            self._line_open = True
            self._line_start_s = time_s
        else:
            self._txt.write(text)
        self._last_text_s = time_s
        self._txt.flush()

    def add_image(self, path: str | None, time_s: float) -> None:
        """MoshiVis: `path` is shown from `time_s` on (None: no image). A copy is kept beside the
        recording (`<base>-image-<n>.<ext>`, in paths) and listed in the sidecar with its time."""
        name = None
        if path:
            n = sum(1 for k in self.paths if k.startswith("image")) + 1
            target = self.base.with_name(f"{self.base.name}-image-{n}{Path(path).suffix.lower()}")
            shutil.copyfile(Path(path).expanduser(), target)
            self.paths[f"image-{n}"] = target
            name = target.name
        if self.meta is not None:
            self.meta.add_image(name, time_s)

    def close(self) -> None:
        self._wav.close()
        if not self._txt.closed:
            if self._line_open:
                self._txt.write("\n")
            self._txt.close()
        if self.meta is not None:
            meta, self.meta = self.meta, None
            try:
                meta.finish(self._wav.seconds)
            except OSError:
                pass  # the start record stays valid; readers take the rest from the WAV and .txt
