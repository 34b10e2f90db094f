"""Playing synthesized speech on an output device, as it is made.

The PortAudio callback only copies fixed blocks from a preallocated ring (silence when it is empty,
or while paused) and counts underruns; the synthesis thread resamples (soxr) when the device does
not take 24 kHz and waits for room in the ring, so a fast synthesizer never runs ahead of the
speaker by more than `buffer_s` seconds. Device lookup and rates: moshi_mlx/audio/devices.py."""

from __future__ import annotations

import threading
import time

import numpy as np

from .. import SAMPLE_RATE
from ..audio.devices import find_device, pick_samplerate
from ..audio.resample import Resampler
from ..audio.ring import RingBuffer
from ..engine.live import BLOCK_SECONDS, DeviceError


class Player:
    def __init__(self, device: int | str | None = None, buffer_s: float = 2.0):
        self.device = find_device(device, "output")
        self.channels = min(2, self.device.max_output_channels)
        self.rate = pick_samplerate(self.device, "output", self.channels)
        self.buffer_s = buffer_s
        self._ring = RingBuffer(int(self.rate * (buffer_s + 1.0)))
        self._block = np.zeros(int(self.rate * BLOCK_SECONDS) * 4, np.float32)
        self._resample = Resampler(SAMPLE_RATE, self.rate)
        self._stream = None
        self.paused = False
        self.underruns = 0  # callback blocks played as silence after playback began
        self.played_samples = 0
        self._started = False

    def _callback(self, outdata, frames, time_info, status) -> None:
        block = self._block[:frames]
        n = 0 if self.paused else self._ring.read_into(block)
        block[n:] = 0.0
        if n < frames and self._started and not self.paused:
            self.underruns += 1
        self._started |= n > 0
        self.played_samples += n
        outdata[:] = block[:, None]

    def start(self) -> None:
        import sounddevice as sd

        try:
            self._stream = sd.OutputStream(device=self.device.index, channels=self.channels,
                                           samplerate=self.rate, blocksize=int(self.rate * BLOCK_SECONDS),
                                           dtype="float32", callback=self._callback)
            self._stream.start()
        except Exception as e:
            self.close()
            raise DeviceError(f"cannot open output device {self.device.name!r}: {e}", "internal") from None

    @property
    def queued_s(self) -> float:
        return self._ring.available() / self.rate

    @property
    def latency_s(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    def write(self, pcm: np.ndarray, stop: threading.Event | None = None) -> None:
        """Queue 24 kHz audio; waits while more than `buffer_s` seconds are queued."""
        data = self._resample(np.asarray(pcm, np.float32))
        while len(data):
            if stop is not None and stop.is_set():
                return
            if self._stream is not None and not self._stream.active:
                raise DeviceError(f"output device {self.device.name!r} stopped working", "device_lost")
            room = int(self.buffer_s * self.rate) - self._ring.available()
            if room <= 0:
                time.sleep(min(0.02, BLOCK_SECONDS))
                continue
            left = self._ring.write(data[:room])
            data = data[min(room, len(data)) - left:]

    def drain(self, stop: threading.Event | None = None) -> None:
        """Wait until everything queued has been played."""
        while self._ring.available() and not (stop is not None and stop.is_set()):
            if self._stream is None or not self._stream.active:
                return
            time.sleep(0.02)
        if not (stop is not None and stop.is_set()):
            time.sleep(self.latency_s)

    def clear(self) -> None:
        """Forget what is queued (stop: the next text starts at once)."""
        self._ring.clear()

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:
                pass
            self._stream = None
