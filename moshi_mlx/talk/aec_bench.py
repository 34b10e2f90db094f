"""Echo canceller benchmark: CPU time per 80 ms frame and echo attenuation on a synthetic scene.

`python -m moshi_mlx.talk.aec_bench [--seconds 30] [--noise-suppression]`. No audio device and no
model needed: the far signal is speech-like (irregular syllables of voiced harmonics and noise),
the echo is it through a small synthetic room, and a different "user" signal talks
over the second half.
"""

from __future__ import annotations

import argparse

import numpy as np

from .. import FRAME_SIZE, SAMPLE_RATE
from ..engine.aec import EchoCanceller


def speech_like(seconds: float, f0: float, seed: int) -> np.ndarray:
    """Syllables of random length, pitch and loudness (voiced harmonics plus a little noise) with
    random pauses, float32. Irregular on purpose: a periodic signal misleads any delay estimator."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    x = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.08, 0.35) * SAMPLE_RATE)
        t = np.arange(length) / SAMPLE_RATE
        pitch = f0 * rng.uniform(0.8, 1.25) * (1 + rng.uniform(-0.15, 0.15) * t / t[-1])
        phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
        voiced = sum(np.sin(k * phase) * rng.uniform(0.2, 1.0) / k for k in range(1, 12))
        syllable = np.hanning(length) * (voiced + 0.3 * rng.standard_normal(length))
        end = min(n, pos + length)
        x[pos:end] = rng.uniform(0.3, 1.0) * syllable[:end - pos]
        pos = end + int(rng.choice([0.02, 0.05, 0.3]) * rng.uniform(0.5, 2.0) * SAMPLE_RATE)
    return (0.1 * x / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def room(x: np.ndarray, delay_s: float, gain_db: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ir = rng.standard_normal(3600) * np.exp(-np.arange(3600) / 720.0) * 0.05
    ir[0] += 1.0
    ir *= 10 ** (gain_db / 20) / np.sqrt(np.sum(ir ** 2))
    wet = np.convolve(x, ir)[:len(x)]
    d = int(delay_s * SAMPLE_RATE)
    return np.concatenate([np.zeros(d), wet[:len(x) - d]]).astype(np.float32)


def run(seconds: float, noise_suppression: bool, delay_ms: float) -> dict[str, float]:
    n = int(seconds * SAMPLE_RATE) // FRAME_SIZE * FRAME_SIZE
    far = speech_like(seconds, 120.0, seed=0)[:n]
    user = speech_like(seconds, 210.0, seed=1)[:n] * 0.5
    user[:n // 2] = 0.0
    echo = room(far, delay_ms / 1000, -6.0)
    near = echo + user
    canceller = EchoCanceller(noise_suppression=noise_suppression)
    canceller.set_delay_ms(delay_ms)
    out = np.concatenate([canceller.process(near[i:i + FRAME_SIZE], far[i:i + FRAME_SIZE])
                          for i in range(0, n, FRAME_SIZE)])
    echo_only = slice(n // 4, n // 2)  # after the first quarter: converged
    erle = 10 * np.log10(np.sum(near[echo_only] ** 2) / np.sum(out[echo_only] ** 2))
    return {"cpu_ms": canceller.cpu_ms_per_frame, "frames": canceller.frames, "erle_db": erle}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the scene (s)")
    parser.add_argument("--delay-ms", type=float, default=60.0, help="echo path delay (ms)")
    parser.add_argument("--noise-suppression", action="store_true", help="also suppress noise")


def main(args: argparse.Namespace) -> int:
    r = run(args.seconds, args.noise_suppression, args.delay_ms)
    print(f"echo canceller: {r['cpu_ms']:.2f} ms CPU per 80 ms frame "
          f"({r['cpu_ms'] / 80 * 100:.1f}% of real time, {r['frames']} frames, noise suppression "
          f"{'on' if args.noise_suppression else 'off'}), ERLE {r['erle_db']:.1f} dB")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    configure_parser(p)
    raise SystemExit(main(p.parse_args()))
