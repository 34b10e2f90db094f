"""One 80 ms frame through the whole model: Mimi encode -> LM step -> Mimi decode -> text.

The same `FrameEngine` serves the live conversation, the file mode, the benchmark and the self-test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import FRAME_SIZE
from ..text import Detokenizer
from ..sampling_defaults import AUDIO_TEMPERATURE, AUDIO_TOP_K, TEXT_TEMPERATURE, TEXT_TOP_K
from .loader import LoadedModel


@dataclass(frozen=True)
class Sampling:
    text_temperature: float = TEXT_TEMPERATURE
    text_top_k: int = TEXT_TOP_K
    audio_temperature: float = AUDIO_TEMPERATURE
    audio_top_k: int = AUDIO_TOP_K
    seed: int | None = None
    kv_bits: int | None = None  # the generator's KV cache stored in 8 (or 4) bits (LmGen's kv_bits)

    @classmethod
    def greedy(cls, seed: int | None = None, kv_bits: int | None = None) -> "Sampling":
        return cls(0.0, 1, 0.0, 1, seed, kv_bits)


@dataclass
class FrameResult:
    pcm: np.ndarray  # (1920,) float32, Moshi's audio (silence while the delays fill)
    text: str  # text to append ("" for padding)
    text_token: int | None  # None while the delays fill
    audio_codes: np.ndarray | None  # (8,) int32
    encode_ms: float
    lm_ms: float
    decode_ms: float

    @property
    def total_ms(self) -> float:
        return self.encode_ms + self.lm_ms + self.decode_ms


class FrameEngine:
    """Streaming state for one conversation at a time; `reset()` starts a clean one."""

    def __init__(self, model: LoadedModel, sampling: Sampling = Sampling(), options: dict | None = None):
        """`options`: the model kind's own options (see engine/setup.py)."""
        from .setup import make_setup

        self.model = model
        self.sampling = sampling
        self.setup = make_setup(model, sampling, options)
        self.gen = self.setup.make_gen()
        self.detok = Detokenizer(model.tokenizer)
        self._silence = np.zeros(FRAME_SIZE, np.float32)
        self.reset()

    def reset(self) -> None:
        """Clean state: LM caches and sampler RNG from the seed (the compiled step functions are the
        model's and stay), codec, detokenizer; then the kind's start (prompts)."""
        self.gen.reset(self.sampling.seed)
        self.model.codec.reset()
        self.detok.reset()
        self.frames = 0
        self.setup.start(self.gen)

    def change(self, options: dict) -> None:
        """Kind options changed from the next frame of this conversation on (MoshiVis: a new
        image); ConfigError for those the kind cannot change mid-stream."""
        self.setup.change(self.gen, options)

    def step(self, pcm: np.ndarray) -> FrameResult:
        t0 = time.perf_counter()
        codes = self.model.codec.encode_frame(np.ascontiguousarray(pcm, dtype=np.float32))
        return self.step_codes(codes, (time.perf_counter() - t0) * 1e3)

    def step_codes(self, codes: np.ndarray, encode_ms: float = 0.0) -> FrameResult:
        """One frame from the user's codes, already encoded (or special: Hibiki's end of input)."""
        t1 = time.perf_counter()
        out = self.gen.step(codes)
        t2 = time.perf_counter()
        self.frames += 1
        if out is None:
            return FrameResult(self._silence.copy(), "", None, None, encode_ms, (t2 - t1) * 1e3, 0.0)
        audio = np.asarray(out.audio_codes, dtype=np.int32)
        pcm_out = self.model.codec.decode_frame(audio)
        t3 = time.perf_counter()
        return FrameResult(np.asarray(pcm_out, np.float32).reshape(-1), self.detok.push(int(out.text_token)),
                           int(out.text_token), audio, encode_ms, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
