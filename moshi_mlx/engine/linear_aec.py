"""A linear echo canceller in numpy: a partitioned-block frequency-domain adaptive filter.

It runs in front of WebRTC's AEC3 (see aec.py) and removes most of the echo linearly, so that AEC3's
suppressor sees little residual echo and stops ducking the user while both talk.

- A delay estimator (PHAT-weighted cross-correlation of near and far, decimated, over the last
  2 s) places the filter just before the echo's direct path, so a short filter (16 x 10 ms)
  converges in about a second; a long one covering the whole search range converged far too slowly.
- Overlap-save, blocks of `block` samples, FFT of 2 x block, `partitions` partitions: the filter
  spans partitions x block samples of echo path after the reference.
- Per-bin power-normalized step (frequency-domain NLMS), with the gradient constrained to a linear
  (not circular) correlation.
- Two filters (foreground/background): the background adapts on every block with a large step; the
  foreground, which makes the output, takes the background's weights only while the background has
  clearly removed more of the microphone signal over the last blocks. While the user talks, the
  background's error grows (it adapts on the user's voice) and the foreground stays as it was; a
  background left far behind the foreground is reset to it.
- The output is used only once the echo path has proven still (see _STILL_S); until then, and while
  the path moves, the microphone signal passes through for AEC3 alone.
"""

from __future__ import annotations

from collections import deque

import numpy as np

# The delay estimator: near and far decimated by this, over the last this many seconds.
_DECIMATE = 4
_WINDOW_S = 2.0
# The filter starts this long before the estimated direct path.
_LEAD_S = 0.02
# A new delay estimate moves the filter only when it differs by more than this (the filter
# tracks smaller drifts itself).
_MOVE_S = 0.03
# A correlation peak this many times the mean |correlation| is an echo (noise: ~4-6 times).
_PEAK = 10.0
# The stage's output is used only once the echo path has proven still: the main tap of the
# output filter stayed within this many samples for the last this many seconds. Until then the
# microphone signal passes through unchanged (AEC3 alone) while the filters learn. An echo path
# that keeps moving (clocks drifting apart; the PulseAudio loopback drifts ~20 samples/s for
# seconds after an underrun) outruns the filter, and its residual, unlike a plain echo, is what
# AEC3 can neither model nor suppress: ERLE 16-21 dB with the stage always on vs 28-67 dB without
# it on such recordings. Waiting also lets AEC3 converge on the plain echo first, which halved
# the double-talk loss on still paths (measured on 9 recordings: -1.1 to -2.0 dB, was -1.2 to -3.1).
_STILL_SAMPLES = 2
_STILL_S = 2.0

# Reference power below this (per sample, about -70 dBFS) carries nothing to learn from.
_SILENT_FAR = 1e-7
# Energies are smoothed over ~this many blocks before the two filters are compared.
_COMPARE_BLOCKS = 8
PROP_FLOOR = 0.1
COPY = 0.7


class LinearEchoCanceller:
    """Streaming PBFDAF; `process(near, far)` takes any whole number of blocks."""

    def __init__(self, sample_rate: int = 24000, block: int = 240, partitions: int = 16,
                 step: float = 1.0, max_delay_s: float = 0.6):
        self.block, self.partitions, self.step = block, partitions, step
        self._bins = block + 1
        self.sample_rate = sample_rate
        self.delay_estimator = DelayEstimator(sample_rate, max_delay_s)
        self._history = np.zeros(self.delay_estimator.max_lag * _DECIMATE + 8 * sample_rate // 100)
        self.offset = 0  # samples the reference is delayed by before the filter
        self._main_taps: deque[tuple[int, int]] = deque()  # (samples processed, main tap)
        self._processed = 0
        self.reset()

    def reset(self) -> None:
        """Forget the echo path and the reference history."""
        shape = (self.partitions, self._bins)
        self._x_spec = np.zeros(shape, np.complex128)  # newest partition first
        self._w_bg = np.zeros(shape, np.complex128)
        self._w_fg = np.zeros(shape, np.complex128)
        self._far_prev = np.zeros(self.block)
        self._power = np.zeros(self._bins)
        self._e_bg = self._e_fg = 0.0
        self.copies = 0
        self._main_tap: int | None = None  # of the output filter (None: it is all zeros)
        self._main_taps.clear()

    def clear(self) -> None:
        """reset() and forget the delay too."""
        self.reset()
        self.delay_estimator.reset()
        self._history[:] = 0.0
        self.offset = 0

    @property
    def bypassed(self) -> bool:
        """True until the echo path has proven still (see _STILL_S): the output is then the input."""
        taps = self._main_taps
        if not taps or self._processed - taps[0][0] < _STILL_S * self.sample_rate:
            return True
        return max(t for _, t in taps) - min(t for _, t in taps) > _STILL_SAMPLES

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """near, far: float arrays of a multiple of `block` samples, far aligned with near as
        the echo path starts. Returns near without the linear echo (float32)."""
        b = self.block
        if len(near) % b or len(far) != len(near):
            raise ValueError(f"linear echo canceller: blocks of {b} samples expected, got "
                             f"{len(near)} near and {len(far)} far")
        n = len(near)
        if n > len(self._history):
            raise ValueError(f"linear echo canceller: at most {len(self._history)} samples a call")
        self._history[:-n] = self._history[n:]
        self._history[-n:] = far
        self.delay_estimator.push(near, far)
        delay = self.delay_estimator.update()
        self._processed += n
        if delay is not None:
            wanted = max(0, delay - int(_LEAD_S * self.sample_rate))
            if abs(wanted - self.offset) > _MOVE_S * self.sample_rate:
                self.offset = wanted
                self.reset()
        end = len(self._history) - self.offset
        far = self._history[end - n:end]
        out = np.empty(n, np.float32)
        for i in range(0, n, b):
            out[i:i + b] = self._block(near[i:i + b].astype(np.float64),
                                       far[i:i + b].astype(np.float64))
        self._track_main_tap()
        return near.astype(np.float32) if self.bypassed else out

    def _track_main_tap(self) -> None:
        """Record where the output filter's largest tap is; keep just over _STILL_S of history."""
        if self._main_tap is None:
            return
        self._main_taps.append((self._processed, self._main_tap))
        horizon = self._processed - _STILL_S * self.sample_rate
        while len(self._main_taps) > 1 and self._main_taps[1][0] <= horizon:
            self._main_taps.popleft()

    def _block(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        b = self.block
        self._x_spec = np.roll(self._x_spec, 1, axis=0)
        self._x_spec[0] = np.fft.rfft(np.concatenate([self._far_prev, far]))
        self._far_prev = far
        x = self._x_spec
        e_fg = near - np.fft.irfft(np.einsum("pk,pk->k", self._w_fg, x))[b:]
        e_bg = near - np.fft.irfft(np.einsum("pk,pk->k", self._w_bg, x))[b:]

        far_power = float(np.mean(far ** 2))
        if far_power > _SILENT_FAR:
            self._adapt(e_bg)
        self._compare(e_fg, e_bg, near)
        return e_fg

    def _adapt(self, e_bg: np.ndarray) -> None:
        b = self.block
        x0 = self._x_spec[0]
        self._power = 0.9 * self._power + 0.1 * (x0.real ** 2 + x0.imag ** 2)
        # Regularized so that quiet bins of a loud reference do not get huge steps.
        norm = self._power + 1e-2 * float(np.mean(self._power)) + 1e-10
        # Proportionate steps: partitions holding more of the echo path adapt faster (an echo
        # path is mostly a delay: most partitions stay near zero).
        size = np.sqrt(np.sum(self._w_bg.real ** 2 + self._w_bg.imag ** 2, axis=1))
        prop = size + PROP_FLOOR * float(np.max(size)) + 1e-12
        prop /= float(np.sum(prop))
        err = np.fft.rfft(np.concatenate([np.zeros(b), e_bg]))
        grad = (prop[:, None] * np.conj(self._x_spec)) * (self.step * err / norm)
        g = np.fft.irfft(grad, axis=1)
        g[:, b:] = 0.0
        self._w_bg += np.fft.rfft(g, axis=1)

    def _compare(self, e_fg: np.ndarray, e_bg: np.ndarray, near: np.ndarray) -> None:
        a = 1.0 / _COMPARE_BLOCKS
        fg, bg = float(np.sum(e_fg ** 2)), float(np.sum(e_bg ** 2))
        self._e_fg += a * (fg - self._e_fg)
        self._e_bg += a * (bg - self._e_bg)
        if not np.isfinite(self._w_bg).all():
            self._w_bg[:] = self._w_fg
            self._e_bg = self._e_fg
        elif self._e_bg < COPY * self._e_fg and bg < fg:
            self._w_fg[:] = self._w_bg
            self._e_fg = self._e_bg
            self.copies += 1
            # The output filter changes only here: find its main tap once per change.
            taps = np.fft.irfft(self._w_fg, axis=1)[:, :self.block].reshape(-1)
            self._main_tap = int(np.argmax(np.abs(taps))) if np.any(taps) else None
        elif self._e_bg > 4.0 * self._e_fg + 1e-9 * len(near):
            self._w_bg[:] = self._w_fg
            self._e_bg = self._e_fg


class DelayEstimator:
    """Where the echo's direct path is: the peak of the phase-transform-weighted cross-correlation
    of near and far (decimated) over the last few seconds, accepted only when it stands out."""

    def __init__(self, sample_rate: int, max_delay_s: float):
        self.max_lag = int(max_delay_s * sample_rate) // _DECIMATE
        self._n = int(_WINDOW_S * sample_rate) // _DECIMATE
        self._fft = 1 << int(np.ceil(np.log2(self._n + self.max_lag)))
        self._near = np.zeros(self._n)
        self._far = np.zeros(self._n + self.max_lag)
        self.delay: int | None = None  # in samples at the full rate
        self._pushed = 0

    def reset(self) -> None:
        self._near[:] = 0.0
        self._far[:] = 0.0
        self.delay = None
        self._pushed = 0

    def push(self, near: np.ndarray, far: np.ndarray) -> None:
        for buf, x in ((self._near, near), (self._far, far)):
            d = x[::_DECIMATE]
            buf[:-len(d)] = buf[len(d):]
            buf[-len(d):] = d
        self._pushed += len(near) // _DECIMATE

    def update(self) -> int | None:
        """Re-estimate from the history (call once per frame or so); returns the delay."""
        # Whitened correlations of a few frames peak at random: wait for a quarter window.
        if self._pushed < self._n // 4:
            return self.delay
        if np.mean(self._far[-self._n:] ** 2) < _SILENT_FAR or np.mean(self._near ** 2) < _SILENT_FAR:
            return self.delay
        cross = np.fft.rfft(self._far, self._fft) * np.fft.rfft(self._near, self._fft).conj()
        corr = np.fft.irfft(cross / (np.abs(cross) + 1e-12), self._fft)
        # near[t] ~ far_window[t + max_lag - lag]: lag l sits at index max_lag - l.
        lags = np.abs(corr[:self.max_lag + 1])[::-1]
        peak = int(np.argmax(lags))
        if lags[peak] > _PEAK * float(np.mean(lags)) + 1e-12:
            self.delay = peak * _DECIMATE
        return self.delay
