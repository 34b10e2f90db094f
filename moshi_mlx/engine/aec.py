"""Acoustic echo cancellation for the live path: a linear echo canceller of ours (numpy, see
linear_aec.py), then WebRTC's audio processing module (AEC3).

The engine's worker thread calls `EchoCanceller.process(near, far)` once per 80 ms frame: `near` is
the microphone block, `far` exactly what was sent to the speaker in the same block. The device
latencies (input + output) go to `set_delay_ms`; the delay estimators (ours and AEC3's) find the rest.

Why the linear stage: AEC3's suppressor assumes its own linear filter removes only a few dB of echo
(its ERLE estimate is capped in its default config), so while echo is present it ducks everything,
the user included: 5-7 dB lost in double talk. The pywebrtc-audio build exposes no AEC3 config (and
is an AEC3 without the suppressor field trials). Our stage (delay estimate + a 160 ms two-path
frequency-domain NLMS that stops adapting while the user talks) removes 20-30 dB of echo before AEC3
sees it, so AEC3 estimates little residual echo and lets the user through (measured, double talk:
synthetic room -5.1 -> -1.1 dB; loopback device, still path, -1.1 to -1.6 dB, device + room -1.1 to
-2.0 dB, ERLE 38-52 dB). It stands aside until the echo path has stayed still for 2 s, and on a
drifting path, where AEC3 alone does better (see linear_aec.py). It costs ~3-5 ms CPU per 80 ms
frame. `linear_stage=False`: AEC3 alone.

Package choice (PyPI, November 2026), all bindings of the same WebRTC APM:
- `pywebrtc-audio` 0.2.0 (chosen): Apache-2.0; ~0.4 MB wheels for CPython 3.10-3.14 on macOS arm64
  and x86_64, Linux x86_64 and aarch64, Windows; depends on numpy only; no network, no threads of
  its own; float32 numpy in and out, any block length (split into 10 ms inside, GIL released),
  `stream_delay_ms`, `reset()`, optional noise suppression. Young: 3 releases, marked beta.
- `livekit` 1.2.1 (`livekit.rtc.AudioProcessingModule`): Apache-2.0, mature, frequent releases,
  py3-none wheels for macOS arm64 and Linux x86_64; but it is the whole LiveKit client: a 28 MB FFI
  library with its own runtime threads, plus protobuf, types-protobuf and aiofiles; int16
  `AudioFrame`s of exactly 10 ms, one protobuf request per 10 ms per direction, no reset. Same
  AEC3: measured here on the same synthetic echo, same ERLE (57 vs 55 dB) at ~1.4x the CPU time.
- `webrtc-audio-processing` 0.1.3 and `aec-audio-processing` 1.0.1: source only (SWIG/meson
  builds, no wheels); `webrtc-noise-gain`: noise suppression and gain only, no echo cancellation.

Rates: the APM works on 10 ms frames and processes at 16/32/48 kHz. By default the 24 kHz stream
goes to it as is (1920 = 8 x 240) and WebRTC's own resampler reaches its processing rate: the
microphone signal comes out 9 ms late (measured), as from the APM at its native rates. With
`apm_rate` set, soxr streaming resamplers convert 24 kHz <-> `apm_rate` instead; they withhold
signal (HQ), and the output comes 74-81 ms late (measured): latency Moshi would hear.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import soxr
from pywebrtc_audio import AudioProcessor

from ..errors import ConfigError
from .linear_aec import LinearEchoCanceller

APM_RATES = (16000, 32000, 48000)
# set_delay_ms pre-delays the far signal by the reported latency minus this margin, so that a
# reported latency up to this much too high still leaves the echo after its reference. AEC3 finds
# delays of 0 to ~500 ms by itself (measured): true delays from reported - 200 ms to reported
# + ~300 ms are covered.
DELAY_MARGIN_MS = 200.0
# Pre-delay changes smaller than this are ignored: every jump of the reference makes AEC3 search
# the delay again. Reports jittering by 0-160 ms every second cost 33 dB of ERLE with 10 ms here,
# nothing with 100 ms; AEC3's own window absorbs the difference.
DELAY_HYSTERESIS_MS = 100.0

_BUILTIN = re.compile(r"macbook|imac|mac mini|mac studio|mac pro|built-?in|internal|\bintegrated\b")
_NOT_BUILTIN = re.compile(r"headphone|headset|earphone|airpods|bluetooth|usb|hdmi|displayport|"
                          r"external|line (in|out)|virtual|blackhole|loopback|aggregate|zoom|teams")


def is_builtin_device(name: str) -> bool:
    """Heuristic: does this device name look like a computer's own microphone or speakers
    ("MacBook Pro Microphone", "MacBook Air Speakers", "Built-in Output", "iMac Speakers")?
    Headphones, headsets, USB/Bluetooth/HDMI and virtual devices are not built-in."""
    n = name.lower()
    return bool(_BUILTIN.search(n)) and not _NOT_BUILTIN.search(n)


class _Fifo:
    """A preallocated first-in first-out queue of float32 samples (worker thread only)."""

    def __init__(self, capacity: int):
        self._buf = np.zeros(capacity, np.float32)
        self.size = 0

    def push(self, x: np.ndarray) -> None:
        n = len(x)
        if self.size + n > len(self._buf):
            raise RuntimeError("echo canceller resampling queue overflow")
        self._buf[self.size:self.size + n] = x
        self.size += n

    def pop(self, n: int, out: np.ndarray) -> None:
        """Move the first n samples into out[:n] (n <= size)."""
        out[:n] = self._buf[:n]
        self._buf[:self.size - n] = self._buf[n:self.size]
        self.size -= n

    def pad_front(self, n: int) -> None:
        self._buf[n:self.size + n] = self._buf[:self.size]
        self._buf[:n] = 0.0
        self.size += n

    def clear(self) -> None:
        self.size = 0


class _DelayLine:
    """Delays a stream of fixed-size blocks by a settable number of samples (zeros at first)."""

    def __init__(self, block: int, max_delay: int):
        self._buf = np.zeros(max_delay + block, np.float32)
        self._block = block
        self._written = 0
        self.delay = 0

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        cap = len(self._buf)
        self._ring_copy(self._written % cap, x, write=True)
        self._written += self._block
        self._ring_copy((self._written - self._block - self.delay) % cap, out, write=False)

    def _ring_copy(self, start: int, data: np.ndarray, write: bool) -> None:
        first = min(self._block, len(self._buf) - start)
        if write:
            self._buf[start:start + first] = data[:first]
            self._buf[:self._block - first] = data[first:]
        else:
            data[:first] = self._buf[start:start + first]
            data[first:] = self._buf[:self._block - first]

    def clear(self) -> None:
        self._buf[:] = 0.0
        self._written = 0


class EchoCanceller:
    """Removes the speaker's echo from the microphone signal, one `frame_size` block at a time.

    Not thread-safe: one thread (the engine's worker) calls everything. `cpu_ms_per_frame` is the
    running mean of the CPU time `process` took on the calling thread."""

    def __init__(self, sample_rate: int = 24000, frame_size: int = 1920,
                 noise_suppression: bool = False, apm_rate: int | None = None,
                 max_delay_ms: float = 2000.0, linear_stage: bool = True):
        if sample_rate <= 0 or sample_rate % 100:
            raise ConfigError(f"echo canceller: sample_rate {sample_rate} Hz is not a whole "
                              "number of samples per 10 ms")
        if frame_size <= 0 or frame_size % (sample_rate // 100):
            raise ConfigError(f"echo canceller: frame_size {frame_size} is not a multiple of "
                              f"10 ms ({sample_rate // 100} samples at {sample_rate} Hz)")
        if apm_rate is not None and apm_rate not in APM_RATES:
            raise ConfigError(f"echo canceller: apm_rate {apm_rate} is not one of {APM_RATES}")
        if not 0 <= max_delay_ms <= 10_000:
            raise ConfigError(f"echo canceller: max_delay_ms {max_delay_ms} is not in 0-10000 ms")
        self.sample_rate = sample_rate
        self.frame_size = frame_size
        self.noise_suppression = noise_suppression
        self.apm_rate = sample_rate if apm_rate in (None, sample_rate) else apm_rate
        self._apm = AudioProcessor(sample_rate=self.apm_rate, echo_cancellation=True,
                                   noise_suppression=noise_suppression)
        self._linear = LinearEchoCanceller(sample_rate) if linear_stage else None
        self._delay_line = _DelayLine(frame_size, int(max_delay_ms * sample_rate / 1000))
        self._near = np.zeros(frame_size, np.float32)
        self._far = np.zeros(frame_size, np.float32)
        if self.apm_rate != sample_rate:
            self._setup_resampling()
        self.delay_ms = 0.0
        self._cpu_ns = 0
        self.frames = 0

    def _setup_resampling(self) -> None:
        up, down = (self.sample_rate, self.apm_rate), (self.apm_rate, self.sample_rate)
        self._up_near = soxr.ResampleStream(*up, 1, dtype="float32", quality="HQ")
        self._up_far = soxr.ResampleStream(*up, 1, dtype="float32", quality="HQ")
        self._down = soxr.ResampleStream(*down, 1, dtype="float32", quality="HQ")
        apm_frame = self.frame_size * self.apm_rate // self.sample_rate
        self._apm_block = self.apm_rate // 100
        # soxr withholds up to ~1 frame at a time: room for several frames is plenty.
        self._near_q, self._far_q = _Fifo(8 * apm_frame), _Fifo(8 * apm_frame)
        self._out_q = _Fifo(8 * self.frame_size)
        self._apm_near = np.zeros(8 * apm_frame, np.float32)
        self._apm_far = np.zeros(8 * apm_frame, np.float32)

    @property
    def cpu_ms_per_frame(self) -> float:
        """Mean CPU time of `process` per frame, in ms (0 before the first frame)."""
        return self._cpu_ns / self.frames / 1e6 if self.frames else 0.0

    def set_delay_ms(self, ms: float) -> None:
        """The delay from a block sent to the speaker to its echo in the microphone, as the
        audio devices report it (input latency + output latency). The far signal is pre-delayed
        by all of it but DELAY_MARGIN_MS; AEC3's delay estimator finds the rest.

        The APM's own stream delay stays 0: AEC3 takes it as the least possible delay, and a value
        above the true delay cost ~25 dB of ERLE here, while 0 costs nothing up to ~500 ms."""
        if not math.isfinite(ms) or ms < 0:
            raise ValueError(f"echo canceller: delay must be a finite number >= 0 ms, got {ms}")
        max_pre = (len(self._delay_line._buf) - self.frame_size) * 1000 / self.sample_rate
        pre_ms = min(max(0.0, ms - DELAY_MARGIN_MS), max_pre)
        current = self._delay_line.delay * 1000 / self.sample_rate
        if abs(pre_ms - current) >= DELAY_HYSTERESIS_MS:
            self._delay_line.delay = round(pre_ms * self.sample_rate / 1000)
        self.delay_ms = float(ms)

    @property
    def pre_delay_ms(self) -> float:
        """How much the far signal is delayed before the APM sees it."""
        return self._delay_line.delay * 1000 / self.sample_rate

    def reset(self) -> None:
        """Forget everything learned (a new conversation); keeps the configuration and delay."""
        self._apm.reset()
        self._delay_line.clear()
        if self._linear is not None:
            self._linear.clear()
        if self.apm_rate != self.sample_rate:
            for stream in (self._up_near, self._up_far, self._down):
                stream.clear()
            for q in (self._near_q, self._far_q, self._out_q):
                q.clear()
        self._cpu_ns = 0
        self.frames = 0

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """One frame: microphone block `near` and the speaker block `far` (float32, shape
        (frame_size,)) -> the microphone block without the echo (a new float32 array)."""
        t0 = time.thread_time_ns()
        for name, x in (("near", near), ("far", far)):
            if np.shape(x) != (self.frame_size,):
                raise ValueError(f"echo canceller: {name} must have shape ({self.frame_size},), "
                                 f"got {np.shape(x)}")
        _copy_finite(near, self._near)
        _copy_finite(far, self._far)
        self._delay_line.process(self._far, self._far)
        if self._linear is not None:
            self._near[:] = self._linear.process(self._near, self._far)
        if self.apm_rate == self.sample_rate:
            out = self._apm.process(self._near, self._far)
        else:
            out = self._process_resampled()
        self._cpu_ns += time.thread_time_ns() - t0
        self.frames += 1
        return out

    def _process_resampled(self) -> np.ndarray:
        self._near_q.push(self._up_near.resample_chunk(self._near))
        self._far_q.push(self._up_far.resample_chunk(self._far))
        n = min(self._near_q.size, self._far_q.size) // self._apm_block * self._apm_block
        if n:
            self._near_q.pop(n, self._apm_near)
            self._far_q.pop(n, self._apm_far)
            cleaned = self._apm.process(self._apm_near[:n], self._apm_far[:n])
            self._out_q.push(self._down.resample_chunk(cleaned))
        if self._out_q.size < self.frame_size:
            # Only while the resamplers fill up: the latency settles at its largest value.
            self._out_q.pad_front(self.frame_size - self._out_q.size)
        out = np.empty(self.frame_size, np.float32)
        self._out_q.pop(self.frame_size, out)
        return out


def _copy_finite(src: np.ndarray, dst: np.ndarray) -> None:
    """Copy into dst as float32; NaN/inf (seen from devices after underruns) become 0, or they
    would poison the APM's filters for good."""
    np.copyto(dst, src, casting="unsafe")
    if not np.isfinite(dst.sum()):
        np.nan_to_num(dst, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
