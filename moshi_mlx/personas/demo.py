"""The `demo-personaplex` model's own files: its Mimi's codes for the prompt's sine and silence
(the real model's are NVIDIA's constants for the release Mimi), and three demo voices made locally
from synthetic sounds through the same path as a user's recording (normalise, encode, save).
Random weights: the voices are noise to the model, they exist to run the whole persona pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 24000
# name -> (fundamental Hz, vibrato Hz, syllables per second): different enough to tell apart
DEMO_VOICES = {"demo-low": (110.0, 5.0, 3.0), "demo-mid": (180.0, 6.0, 4.0), "demo-high": (260.0, 7.0, 5.0)}
DEMO_SECONDS = 2.0


def synthetic_voice(f0: float, vibrato: float, syllables: float, seconds: float = DEMO_SECONDS,
                    seed: int = 0) -> np.ndarray:
    """A voiced buzz with vibrato and a syllable-like envelope (not speech)."""
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = f0 * (1 + 0.03 * np.sin(2 * np.pi * vibrato * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * syllables * t) ** 2
    noise = np.random.default_rng(seed).standard_normal(len(t)) * 0.02
    return (0.2 * wave * envelope + noise).astype(np.float32)


def sine_frame(frame_size: int) -> np.ndarray:
    """One frame of the reference's 440 Hz prompt sine (amplitude 0.5; 440 Hz fits a 80 ms frame
    a whole number of times, so repeating the frame continues the sine)."""
    t = np.arange(frame_size) / RATE
    return (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def _steady_codes(codec, pcm: np.ndarray, frames: int = 4) -> list[int]:
    """The codes of `pcm` repeated, once the codec's streaming state has filled with it."""
    codec.reset()
    for _ in range(frames):
        codes = np.asarray(codec.encode_frame(pcm)).reshape(-1)
    codec.reset()
    return [int(c) for c in codes]


def make_demo_files(folder: Path, lm_config) -> dict:
    """DemoSpec.extras of demo-personaplex: voices/ and the config.json entries for the prompt."""
    from ..demo import DEMOS, MIMI_FILE, demo_configs
    from ..mimi import open_codec
    from .voices import model_voice_dir, save_voice, voice_from_audio

    _, mimi_config = demo_configs(DEMOS["demo-personaplex"])
    moshi = lm_config.n_q // 2
    codec = open_codec(Path(folder) / MIMI_FILE, "mlx", num_codebooks=moshi, config=mimi_config)
    for i, (name, (f0, vibrato, rate)) in enumerate(DEMO_VOICES.items()):
        voice = voice_from_audio(synthetic_voice(f0, vibrato, rate, seed=i), codec, name, moshi,
                                 source="demo: synthetic sound")
        save_voice(voice, model_voice_dir(folder) / f"{name}.safetensors")
    silence = np.zeros(codec.frame_size, np.float32)
    return {"lm_gen_config": {"sine_tokens": _steady_codes(codec, sine_frame(codec.frame_size)),
                              "silence_tokens": _steady_codes(codec, silence)}}
