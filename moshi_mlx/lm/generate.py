"""Streaming frame-by-frame generator with the alignment of Kyutai's PyTorch `LMGen.step`.

Per call: the user's codes of one frame go in; once the delays have filled, the text token and
Moshi's dep_q audio codes of one (un-delayed) frame come out. The whole frame (temporal
transformer, text sampling, depformer, audio sampling) is one compiled MLX function; the only host
synchronisation is reading the frame's sampled tokens back."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import partial

import mlx.core as mx
import numpy as np

from ..device import activation_dtype
from .model import Lm
from .sampling import make_sampler

UNGENERATED = -2  # Kyutai's marker for 'not generated yet' in the delay buffer


@dataclass(frozen=True)
class StepOutput:
    text_token: int
    audio_codes: np.ndarray  # (dep_q,) int32: Moshi's codebooks of one frame


class LmGen:
    """Owns one conversation's state (KV cache, delay buffer, random key); `reset()` starts anew.

    `step(user_codes)` = `submit(user_codes)` + `collect()`: a caller may do other work (decode the
    previous frame, read the mic) between the two while the frame computes."""

    def __init__(self, model: Lm, text_sampler=None, audio_sampler=None, seed: int | None = None,
                 dtype: mx.Dtype | None = None):
        self.model = model
        self.config = c = model.config
        self.text_sampler = text_sampler or make_sampler(0.7, top_k=25)
        self.audio_sampler = audio_sampler or make_sampler(0.8, top_k=250)
        self.dtype = dtype or activation_dtype()
        self._delays = np.array(c.delays, dtype=np.int64)
        self._initial = np.array([c.text_initial_token] + [c.audio_initial_token] * c.n_q, np.int64)
        self._ct = c.max_delay + 2  # delay buffer length, as in LMGen
        # Before the ring wraps, attend to a prefix of it, at most twice what has been written:
        # compiled variants C/64, C/32, .., C/2, C (Moshi: 46, 93, .., 1500, 3000 frames).
        self._lengths = sorted({max(1, c.context >> s) for s in range(7)})
        model.prepare(self.dtype)  # before tracing: the compiled steps capture its tables
        self._frames = {n: mx.compile(partial(self._frame_fn, n)) for n in self._lengths}
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """Forget the conversation: fresh KV cache, delay buffer and random key."""
        c = self.config
        self._kv = self.model.make_cache(1, self.dtype)
        self._offset = 0
        self._buffer = np.full((c.num_codebooks, self._ct), UNGENERATED, np.int64)
        self._key = mx.random.key(seed if seed is not None else secrets.randbits(63))
        self._pending: mx.array | None = None

    def warmup(self) -> None:
        """Compile every variant now (each is traced on first use otherwise: a hiccup mid-call
        each time the conversation outgrows one), then reset."""
        tokens = mx.array(self._initial[None], dtype=mx.int32)
        for length in self._lengths:
            out = self._frames[length](tokens, mx.array(0, dtype=mx.int32), self._key, *self._kv)
            mx.eval(out)
        self.reset()

    @property
    def offset(self) -> int:
        """Frames processed since the last reset."""
        return self._offset

    def _frame_fn(self, length, tokens, offset, key, *kv):
        dep_q = self.config.dep_q
        keys = [k.reshape(2) for k in mx.split(mx.random.split(key, dep_q + 2), dep_q + 2)]
        out, text_logits, kv = self.model.temporal(tokens, list(kv), offset, self.dtype, length)
        text = self.text_sampler(text_logits, keys[0])
        parts = [text[:, None]]
        if dep_q:
            parts.append(self.model.depformer_sample(out, text, self.audio_sampler, keys[1:1 + dep_q]))
        return (mx.concatenate(parts, axis=1), keys[-1], *kv)

    def frame_input(self, user_codes) -> np.ndarray:
        """Store the user's codes in the delay buffer; return the temporal input [1 + n_q]."""
        c, o, ct = self.config, self._offset, self._ct
        codes = np.asarray(user_codes, dtype=np.int64).reshape(-1)
        if codes.size < c.user_codebooks:
            raise ValueError(f"expected {c.user_codebooks} user codes, got {codes.size}")
        codes = codes[: c.user_codebooks]
        if ((codes < -1) | (codes >= c.card)).any():
            raise ValueError(f"user codes must be in [0, {c.card}) or -1 (no input), got {codes}")
        first = c.dep_q + 1
        for j, d in enumerate(self._delays[first:]):
            self._buffer[first + j, (o + d) % ct] = codes[j]
        inputs = self._buffer[:, o % ct].copy()
        is_init = o <= self._delays
        inputs[is_init] = self._initial[is_init]
        return inputs

    def submit(self, user_codes) -> None:
        """Queue the computation of one frame (non-blocking)."""
        if self._pending is not None:
            raise RuntimeError("collect() the previous frame before submitting another")
        inputs = self.frame_input(user_codes)
        length = next(n for n in self._lengths if n > self._offset or n == self._lengths[-1])
        tokens, self._key, *self._kv = self._frames[length](
            mx.array(inputs[None], dtype=mx.int32), mx.array(self._offset, dtype=mx.int32),
            self._key, *self._kv)
        mx.async_eval(tokens, self._key, *self._kv)
        self._pending = tokens

    def collect(self) -> StepOutput | None:
        """Wait for the submitted frame; None while the delays fill (the first max_delay calls)."""
        if self._pending is None:
            raise RuntimeError("nothing submitted")
        tokens = np.array(self._pending, copy=False)[0].astype(np.int64)  # the one host sync
        self._pending = None
        return self.record(tokens)

    def record(self, tokens: np.ndarray) -> StepOutput | None:
        """Write one frame's generated tokens (text, dep_q codes) and read out the un-delayed frame."""
        c, ct = self.config, self._ct
        self._offset += 1
        o = self._offset
        self._buffer[: len(tokens), o % ct] = tokens
        if o <= c.max_delay:
            return None
        gen = self._delays[: c.dep_q + 1]
        out = self._buffer[np.arange(c.dep_q + 1), (o - c.max_delay + gen) % ct]
        return StepOutput(int(out[0]), out[1:].astype(np.int32))

    def step(self, user_codes) -> StepOutput | None:
        self.submit(user_codes)
        return self.collect()
