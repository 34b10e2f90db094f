"""Live full-duplex audio: a microphone stream and a speaker stream, 24 kHz frames for the worker.

The PortAudio callbacks only copy fixed-size blocks between the device buffers and preallocated
rings (mono mixdown into a preallocated block, silence on underrun) and bump counters. Everything
else (resampling with soxr, frame assembly, catching up, timing) runs on the worker thread.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import soxr

from .. import FRAME_SIZE, SAMPLE_RATE
from ..errors import AudioDeviceError
from .devices import AudioDevice, find_device, pick_samplerate
from .ring import RingBuffer

RING_SECONDS = 4.0
BLOCK_SECONDS = 0.04  # 40 ms callback blocks: half a Moshi frame
NO_DATA_GRACE_S = 5.0  # some servers deliver the first input only after ~1.5 s
NO_DATA_LOST_S = 2.0  # after data flowed, this long without a callback = device lost


class DeviceError(AudioDeviceError):
    """An AudioDeviceError with the ErrorEvent kind it maps to."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class _Resampler:
    """Streaming soxr resampler, or a pass-through when the rates match."""

    def __init__(self, rate_in: int, rate_out: int):
        self._stream = None if rate_in == rate_out else soxr.ResampleStream(
            rate_in, rate_out, 1, dtype="float32", quality="HQ")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x if self._stream is None else self._stream.resample_chunk(x)


class LiveAudio:
    def __init__(self, input_device: int | str | None = None, output_device: int | str | None = None,
                 max_lag_frames: int = 3, output: bool = True):
        """output=False: the microphone only (no output device is opened; write_frame is unused)."""
        try:
            self.input = find_device(input_device, "input")
        except AudioDeviceError as e:
            raise DeviceError(str(e), "no_input_device") from None
        try:
            self.output = find_device(output_device, "output") if output else None
        except AudioDeviceError as e:
            raise DeviceError(str(e), "internal") from None
        self.in_channels = min(2, self.input.max_input_channels)
        self.out_channels = min(2, self.output.max_output_channels) if output else 1
        self.in_rate = pick_samplerate(self.input, "input", self.in_channels)
        self.out_rate = pick_samplerate(self.output, "output", self.out_channels) if output else SAMPLE_RATE
        self.max_lag_frames = max_lag_frames
        in_block, out_block = int(self.in_rate * BLOCK_SECONDS), int(self.out_rate * BLOCK_SECONDS)
        self._in_ring = RingBuffer(int(self.in_rate * RING_SECONDS))
        self._out_ring = RingBuffer(int(self.out_rate * RING_SECONDS))
        self._mix = np.zeros(in_block * 4, np.float32)
        self._out_block = np.zeros(out_block * 4, np.float32)
        self._in_block, self._out_block_size = in_block, out_block
        # counters written by the callbacks
        self.input_blocks = 0
        self.input_overflow_samples = 0
        self.input_status_errors = 0
        self.output_blocks = 0
        self.underruns = 0
        self.output_status_errors = 0
        self._playing = False
        # worker side
        self._to_24k = _Resampler(self.in_rate, SAMPLE_RATE)
        self._from_24k = _Resampler(SAMPLE_RATE, self.out_rate)
        self._chunk = np.zeros(self._in_ring.capacity, np.float32)
        self._pending = np.zeros(0, np.float32)
        self.dropped_frames = 0
        self.output_overflow_samples = 0
        self.lost = False
        self.lost_device = ""
        self._streams: list = []
        self._started_at = 0.0
        self._last_blocks = 0
        self._last_progress = 0.0

    # ---- audio callbacks: copy, count, nothing else ----

    def _on_input(self, indata, frames, time_info, status):
        if status:
            self.input_status_errors += 1
        if self.in_channels == 1:
            self.input_overflow_samples += self._in_ring.write(indata[:, 0])
        else:
            np.mean(indata, axis=1, out=self._mix[:frames])
            self.input_overflow_samples += self._in_ring.write(self._mix[:frames])
        self.input_blocks += 1

    def _on_output(self, outdata, frames, time_info, status):
        if status:
            self.output_status_errors += 1
        block = self._out_block[:frames]
        n = self._out_ring.read_into(block)
        if n < frames:
            block[n:] = 0.0
            if self._playing:
                self.underruns += 1
        elif not self._playing:
            self._playing = True
        outdata[:] = block[:, None]
        self.output_blocks += 1

    # ---- worker side ----

    def start(self) -> None:
        import sounddevice as sd

        try:
            self._streams = [
                sd.InputStream(device=self.input.index, channels=self.in_channels,
                               samplerate=self.in_rate, blocksize=self._in_block, dtype="float32",
                               callback=self._on_input)]
            if self.output is not None:
                self._streams.append(sd.OutputStream(
                    device=self.output.index, channels=self.out_channels, samplerate=self.out_rate,
                    blocksize=self._out_block_size, dtype="float32", callback=self._on_output))
            for s in self._streams:
                s.start()
        except Exception as e:
            self.close()
            raise DeviceError(_open_error(e, self.input, self.output), _open_error_kind(e)) from None
        self._started_at = self._last_progress = time.monotonic()

    @property
    def input_latency_s(self) -> float:
        return float(self._streams[0].latency) if self._streams else 0.0

    @property
    def output_latency_s(self) -> float:
        return float(self._streams[1].latency) if len(self._streams) > 1 else 0.0

    @property
    def queued_output_s(self) -> float:
        return self._out_ring.available() / self.out_rate

    @property
    def lag_frames(self) -> float:
        """Input waiting to be processed, in frames."""
        return (len(self._pending) + self._in_ring.available() * SAMPLE_RATE / self.in_rate) / FRAME_SIZE

    def _pull(self) -> None:
        n = self._in_ring.read_into(self._chunk)
        if n:
            x = self._to_24k(self._chunk[:n])
            self._pending = np.concatenate([self._pending, x]) if len(self._pending) else x.copy()

    def _check_alive(self) -> bool:
        """False (and `lost_device` named) when a stream died or the input stopped calling back."""
        for stream, device in zip(self._streams, (self.input, self.output)):
            if not stream.active:
                self.lost_device = device.name
                return False
        now = time.monotonic()
        if self.input_blocks != self._last_blocks:
            self._last_blocks, self._last_progress = self.input_blocks, now
            return True
        limit = NO_DATA_GRACE_S if self.input_blocks == 0 else NO_DATA_LOST_S
        if now - self._last_progress >= limit:
            self.lost_device = self.input.name
            return False
        return True

    def read_frame(self, stop: threading.Event) -> np.ndarray | None:
        """The next 1920-sample 24 kHz frame; drops the oldest frames when more than max_lag_frames
        are waiting. None when `stop` is set or the input device was lost (then `lost` is True)."""
        while not stop.is_set():
            self._pull()
            excess = int(len(self._pending) // FRAME_SIZE) - 1 - self.max_lag_frames
            if excess > 0:
                self._pending = self._pending[excess * FRAME_SIZE:]
                self.dropped_frames += excess
            if len(self._pending) >= FRAME_SIZE:
                frame, self._pending = self._pending[:FRAME_SIZE], self._pending[FRAME_SIZE:]
                return frame
            if not self._check_alive():
                self.lost = True
                return None
            missing = (FRAME_SIZE - len(self._pending)) / SAMPLE_RATE
            stop.wait(min(max(missing - self._in_ring.available() / self.in_rate, 0.002), 0.05))
        return None

    def write_frame(self, pcm: np.ndarray) -> None:
        self.output_overflow_samples += self._out_ring.write(self._from_24k(pcm))

    def clear_output(self) -> None:
        """Drop the speech queued for the speaker (a barge-in: silence from the next block)."""
        self._out_ring.clear()

    def close(self) -> None:
        for s in self._streams:
            try:
                s.abort()
                s.close()
            except Exception:
                pass
        self._streams = []


def _open_error_kind(e: Exception) -> str:
    text = str(e).lower()
    return "mic_permission" if ("permission" in text or "not permitted" in text) else "no_input_device"


def _open_error(e: Exception, input_dev: AudioDevice, output_dev: AudioDevice | None) -> str:
    output = f", output {output_dev.name!r}" if output_dev is not None else ""
    msg = f"cannot open audio devices (input {input_dev.name!r}{output}): {e}"
    if _open_error_kind(e) == "mic_permission":
        msg += (". Microphone access is denied: on macOS open System Settings > Privacy & Security > "
                "Microphone and allow this app (or your terminal), then start again")
    return msg


MIC_PERMISSION_HELP = (
    "the microphone delivers pure digital silence. On macOS this means microphone access is not "
    "granted: open System Settings > Privacy & Security > Microphone, allow this app (or your "
    "terminal for the command line), then start a new conversation. Otherwise check that the "
    "input device is not muted.")

SILENT_INPUT_FRAMES = 40  # 3.2 s of exact zeros from the mic: access is probably denied


def microphone_frames(audio: "LiveAudio", stop: threading.Event, emit, what: str, recording: bool):
    """The microphone's 80 ms frames for a live loop, cleaned (NaN, inf, absurd values: silence, as
    for files), until `stop` or the device is lost (then a 'device_lost' ErrorEvent naming it and
    `what` stopped). After 3.2 s of exact zeros, one warning that microphone access is probably
    not granted."""
    from ..audio_io import clean_pcm
    from .events import ErrorEvent

    zero_frames = 0
    while True:
        mic = audio.read_frame(stop)
        if mic is None:
            if audio.lost:
                emit(ErrorEvent("device_lost", f"audio device {audio.lost_device!r} stopped working "
                                f"(unplugged or lost); {what} stopped"
                                + (", recording kept" if recording else "")))
            return
        mic, _ = clean_pcm(mic)
        zero_frames = zero_frames + 1 if not mic.any() else 0
        if zero_frames == SILENT_INPUT_FRAMES:
            emit(ErrorEvent("mic_permission", f"input {audio.input.name!r}: {MIC_PERMISSION_HELP}",
                            fatal=False))
        yield mic

