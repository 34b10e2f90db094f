"""Plays a recording to an output device, with its position, pause and seek. Plain Python (no Qt).

pyside6-essentials has no QtMultimedia, so playback goes through sounddevice like the conversation.
The PortAudio callback never blocks: it copies from a preallocated ring (moshi_mlx.audio.ring) into
the device buffer, outputs silence when paused or when the ring is empty, and counts the samples it
played; no file I/O, no locks, no allocation of sample buffers. A feeder thread reads the file in
blocks, mixes its channels (user and Moshi) to mono, resamples to the device's rate with soxr, and
keeps the ring ~1 s ahead.

Seeking: the feeder stops writing, then asks the callback (the ring's consumer) to drop what is
queued; once the callback has done so, the feeder reads from the new place. From the seek until
then the callback plays silence, so no stale block is ever played after a seek, and the ring keeps
its single-producer single-consumer discipline.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from moshi_mlx.audio.ring import RingBuffer

BLOCK_S = 0.04  # callback block
AHEAD_S = 1.0  # how far the feeder fills the ring ahead of the callback
READ_FRAMES = 4800  # file frames read per feeder step (0.2 s at 24 kHz)


class PlayerError(Exception):
    """The file cannot be played or the output device cannot be opened (the message says which)."""


def open_sounddevice_stream(device, callback):
    """The real output: a sounddevice OutputStream on `device` (index, name or None = default) at
    24 kHz when it accepts it. Returns (stream, rate, channels)."""
    import sounddevice as sd

    from moshi_mlx.audio.devices import find_device, pick_samplerate

    out = find_device(device, "output")
    channels = min(2, out.max_output_channels)
    rate = pick_samplerate(out, "output", channels)
    stream = sd.OutputStream(device=out.index, channels=channels, samplerate=rate,
                             blocksize=int(rate * BLOCK_S), dtype="float32", callback=callback)
    return stream, rate, channels


class Player:
    """One open recording. `open_stream(callback) -> (stream, rate, channels)` makes the output (a
    sounddevice stream by default; tests pass a fake that calls the callback themselves)."""

    def __init__(self, path, device=None, open_stream: Callable | None = None) -> None:
        import soundfile

        try:
            self._file = soundfile.SoundFile(str(path))
        except Exception as e:  # noqa: BLE001 - any reason the file is not playable
            raise PlayerError(f"{path}: cannot be played ({e})") from None
        self.path = path
        self.file_rate = self._file.samplerate
        self.duration = self._file.frames / self.file_rate
        try:
            if open_stream is None:
                self._stream, self.rate, channels = open_sounddevice_stream(device, self._callback)
            else:
                self._stream, self.rate, channels = open_stream(self._callback)
        except Exception as e:  # noqa: BLE001 - no device, PortAudio missing, rate refused
            self._file.close()
            raise PlayerError(f"cannot open the output device for playback: {e}") from None
        self.channels = channels
        self._ring = RingBuffer(int(self.rate * AHEAD_S * 2))
        self._block = np.zeros(int(self.rate * BLOCK_S) * 8, np.float32)
        # written by the callback only
        self._played = 0  # output samples played since the last flush
        self._flushed = 0  # the flush request it has carried out
        self.drained = False  # the file's end has been played
        # written by the feeder (or the caller) only
        self._flush = 0
        self._eof = False
        self._base_s = 0.0  # file position the ring started from (the last seek)
        self.playing = False
        self.underruns = 0
        self._seek_to: float | None = None
        self._lock = threading.Lock()  # caller <-> feeder only; never taken in the callback
        self._wake = threading.Event()
        self._closed = False
        self._resampler = self._new_resampler()
        self._stream.start()
        self._feeder = threading.Thread(target=self._feed, name="player-feeder", daemon=True)
        self._feeder.start()

    # ---- the caller's side (the UI thread) ----

    @property
    def position(self) -> float:
        """Seconds into the file of what is playing now."""
        if self._flush != self._flushed or self._seek_to is not None:
            return self._seek_to if self._seek_to is not None else self._base_s
        if self.drained:
            return self.duration
        return min(self.duration, self._base_s + self._played / self.rate)

    def play(self) -> None:
        if self.drained:
            self.seek(0.0)
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def seek(self, seconds: float) -> None:
        with self._lock:
            self._seek_to = min(max(0.0, float(seconds)), self.duration)
        self._wake.set()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.playing = False
        self._wake.set()
        self._feeder.join(5)
        try:
            self._stream.stop()
            self._stream.close()
        except Exception:  # noqa: BLE001 - a device that vanished cannot be closed twice
            pass
        self._file.close()

    # ---- the audio callback: copy, count, nothing else ----

    def _callback(self, outdata, frames, time_info, status) -> None:
        if self._flush != self._flushed:
            self._ring.clear()
            self._played = 0
            self.drained = False
            self._flushed = self._flush
        if not self.playing or self.drained or self._seek_to is not None:
            outdata.fill(0)  # a seek asked for: what is queued is from before it
            return
        block = self._block[:frames]
        n = self._ring.read_into(block)
        if n < frames:
            block[n:] = 0.0
            if self._eof:
                self.drained = n == 0 and self._ring.available() == 0
            elif self._played:  # not while the feeder fills the ring after a start or a seek
                self.underruns += 1
        self._played += n
        outdata[:] = block[:, None]

    # ---- the feeder thread ----

    def _new_resampler(self):
        from moshi_mlx.audio.resample import Resampler

        return Resampler(self.file_rate, self.rate)

    def _do_seek(self, target: float) -> None:
        self._eof = False  # before the flush: the callback must not take the empty ring for the end
        self._flush += 1
        deadline = time.monotonic() + 1.0
        while self._flushed != self._flush and not self._closed:
            if not getattr(self._stream, "active", True) or time.monotonic() > deadline:
                # no callback is running (stopped or lost device): the consumer side is ours now
                self._ring.clear()
                self._played = 0
                self.drained = False
                self._flushed = self._flush
                break
            time.sleep(0.002)
        self._file.seek(int(round(target * self.file_rate)))
        self._resampler = self._new_resampler()
        self._base_s = target
        with self._lock:
            if self._seek_to == target:
                self._seek_to = None

    def _feed(self) -> None:
        wanted = int(self.rate * AHEAD_S)
        while not self._closed:
            with self._lock:
                target = self._seek_to
            if target is not None:
                self._do_seek(target)
                continue
            if self._eof or self._ring.available() >= wanted:
                self._wake.wait(0.02)
                self._wake.clear()
                continue
            data = self._file.read(READ_FRAMES, dtype="float32", always_2d=True)
            last = len(data) < READ_FRAMES
            mono = np.clip(data.sum(axis=1), -1.0, 1.0) if data.shape[1] > 1 else data[:, 0]
            mono = self._resampler(mono, last=last)
            while len(mono) and not self._closed and self._seek_to is None:
                left = self._ring.write(mono)
                mono = mono[len(mono) - left:]
                if left:
                    self._wake.wait(0.02)
                    self._wake.clear()
            self._eof = last
