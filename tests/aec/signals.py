"""Speech and measurements for the echo-cancellation tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from moshi_mlx.audio_io import read_audio

RATE = 24000
FRAME = 1920

# Moshi's voice (what the speaker plays) and the user's (what the microphone should keep).
MOSHI_TEXT = ("Hello, I am Moshi. I can listen and speak at the same time. "
              "What would you like to talk about today?")
USER_TEXT = "Could you tell me a story about a small robot who learned to play the piano?"


def espeak(text: str, path: Path, voice: str, speed: int, pitch: int, rms: float) -> np.ndarray:
    """Speak `text` with espeak-ng; 24 kHz mono float32 without leading/trailing silence, scaled
    to the given RMS over its voiced part."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: run scripts/install_system_deps.sh")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path),
                    text], check=True, capture_output=True, timeout=60)
    pcm = read_audio(path, RATE)
    voiced = np.flatnonzero(np.abs(pcm) > 1e-3)
    pcm = pcm[voiced[0]:voiced[-1] + 1]
    return (pcm * (rms / np.sqrt(np.mean(pcm[np.abs(pcm) > 1e-3] ** 2)))).astype(np.float32)


def speech_pair(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(moshi, user): two different voices saying different things."""
    moshi = espeak(MOSHI_TEXT, folder / "moshi.wav", "en-us", 165, 40, rms=0.1)
    user = espeak(USER_TEXT, folder / "user.wav", "en-gb+f3", 150, 75, rms=0.05)
    return moshi, user


def energy(x: np.ndarray) -> float:
    return float(np.sum(np.square(x, dtype=np.float64)))


def ratio_db(a: np.ndarray, b: np.ndarray) -> float:
    """10 log10(energy(a) / energy(b))."""
    return 10.0 * np.log10(energy(a) / energy(b))


def estimate_delay(near: np.ndarray, far: np.ndarray, max_lag: int) -> int:
    """The lag d in [0, max_lag] that best explains near[t] ~ far[t - d] (FFT cross-correlation)."""
    n = len(near) + len(far)
    corr = np.fft.irfft(np.fft.rfft(near, n) * np.conj(np.fft.rfft(far, n)), n)
    return int(np.argmax(np.abs(corr[:max_lag + 1])))


def run_canceller(canceller, near: np.ndarray, far: np.ndarray) -> np.ndarray:
    """Feed whole frames through the canceller as the engine's worker does."""
    out = [canceller.process(near[i:i + FRAME], far[i:i + FRAME])
           for i in range(0, len(near) - FRAME + 1, FRAME)]
    return np.concatenate(out)


def room_echo(far: np.ndarray, delay_s: float, gain_db: float, seed: int = 0) -> np.ndarray:
    """far through a small room: direct path + early reflections + a decaying diffuse tail."""
    rng = np.random.default_rng(seed)
    n = int(0.15 * RATE)
    ir = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.03 * RATE)) * 0.05
    ir[0] += 1.0
    ir[int(0.004 * RATE)] += 0.5
    ir[int(0.011 * RATE)] -= 0.3
    ir *= 10 ** (gain_db / 20) / np.sqrt(np.sum(ir ** 2))
    wet = np.convolve(far, ir)[:len(far)]
    d = int(delay_s * RATE)
    return np.concatenate([np.zeros(d), wet[:len(far) - d]]).astype(np.float32)


def delay_track(near: np.ndarray, far: np.ndarray, start: int, stop: int,
                window: int = RATE // 2, max_lag: int = RATE) -> list[int]:
    """The echo delay (samples) in successive windows of near[start:stop] that carry echo: a
    device path that changed during a recording shows up as a jump."""
    lags = []
    for s in range(max(start, max_lag), stop - window + 1, window):
        w = near[s:s + window]
        if np.sqrt(np.mean(w ** 2)) < 1e-3:
            continue
        ref = far[s - max_lag:s + window]
        corr = np.correlate(ref, w, mode="valid")  # corr[j] = sum w[t] * ref[j + t]
        lags.append(max_lag - int(np.argmax(np.abs(corr))))
    return lags
