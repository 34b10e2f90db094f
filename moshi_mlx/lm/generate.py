"""Streaming frame-by-frame generator with the alignment of Kyutai's PyTorch `LMGen.step`, for every
stream layout of the family (Moshi, STT, Hibiki, TTS, PersonaPlex).

Per call: the caller's codes of one frame go in (the user's audio; all codebooks for STT); once the
delays have filled, the text token and the generated codebooks of one (un-delayed) frame come out,
with the extra heads' probabilities (STT's end of turn) where the model has them. The whole frame
(temporal transformer, text sampling, depformer, audio sampling, classifier-free guidance) is one
compiled MLX function; the only host synchronisation is reading the frame's tokens back. A
`text_hook` (the TTS state machine) splits the frame in two around a host decision on the text.

Compiled functions belong to the model (`step_functions`), keyed by everything that shapes them:
a new conversation with the same settings starts without tracing anything again."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Callable

import mlx.core as mx
import numpy as np

from ..device import activation_dtype
from ..sampling_defaults import AUDIO_TEMPERATURE, AUDIO_TOP_K, TEXT_TEMPERATURE, TEXT_TOP_K
from .conditioners import Conditions
from .delays import UNGENERATED, DelayBuffer
from .kv_cache import caches_over
from .model import Lm
from .sampling import make_sampler

__all__ = ["LmGen", "StepOutput", "UNGENERATED"]

TextHook = Callable[[int, int], int]  # (sampled text token, call offset) -> token to feed


@dataclass(frozen=True)
class StepOutput:
    text_token: int
    audio_codes: np.ndarray  # (generated codebooks,) int32 (-1: Kyutai's zero token, no audio)
    extra_heads: np.ndarray | None = None  # [heads, extra_heads_dim] softmax of this call's frame


@dataclass(frozen=True)
class GenState:
    kv: list  # the caches' arrays (iterating LayerCaches)
    offset: int
    tokens: np.ndarray
    fixed: np.ndarray
    key: mx.array


@dataclass(frozen=True)
class _Shape:
    """Everything a compiled frame function depends on besides its array inputs."""

    dtype: mx.Dtype
    text_sampler: Callable
    audio_sampler: Callable
    codebooks: int  # depformer steps run (0: none)
    rows: int  # batch rows (2 with classifier-free guidance)
    has_sum: bool
    has_cross: bool
    length: int  # attention prefix (see RingKVCache)
    part: str  # "frame" (all), "text" (up to the text token), "audio" (the depformer)
    cfg_text: bool = True  # CFG also on the text logits (False: the conditioned row's alone)
    kv_bits: int | None = None  # a quantized KV cache (QuantizedRingKVCache)
    kv_group: int | None = None


def step_functions(model: Lm) -> dict:
    """The model's cache of compiled frame functions, shared by all its generators."""
    cache = getattr(model, "_step_functions", None)
    if cache is None:
        cache = {}
        object.__setattr__(model, "_step_functions", cache)
    return cache


def _build(model: Lm, s: _Shape):
    """A compiled function for `s`. Array inputs: tokens [rows, 1 + n_q], offset, key, cfg,
    [cond_sum], [cross k, v per layer], kv... (part "audio": temporal_out, text [1], key, cfg)."""
    n_cross = 2 * model.config.num_layers if s.has_cross else 0
    extra = model.config.extra_heads_num_heads

    def combine(logits, cfg):  # Kyutai's CFG: null + (cond - null) * cfg, rows [cond; null]
        if s.rows == 1:
            return logits
        cond, null = mx.split(logits, 2, axis=0)
        return null + (cond - null) * cfg

    def depformer(out, text, key, cfg):
        keys = [k.reshape(2) for k in mx.split(mx.random.split(key, s.codebooks), s.codebooks)]
        return model.depformer_sample(out, text, s.audio_sampler, keys, s.codebooks,
                                      lambda logits: combine(logits, cfg))

    def text_part(tokens, offset, key, cfg, *rest):
        cond_sum = rest[0] if s.has_sum else None
        rest = rest[1:] if s.has_sum else rest
        cross = [tuple(rest[i:i + 2]) for i in range(0, n_cross, 2)] if n_cross else None
        kv = caches_over(rest[n_cross:], s.kv_bits, s.kv_group)
        text_key, audio_key, next_key = (k.reshape(2) for k in mx.split(mx.random.split(key, 3), 3))
        out, logits, kv = model.temporal(tokens, kv, offset, s.dtype, s.length, cond_sum, cross)
        kv = kv.arrays
        text = s.text_sampler(combine(logits, cfg) if s.cfg_text else logits[:1], text_key)
        probs = model.extra_probs(out[:1]) if extra else None
        return out, text, audio_key, next_key, probs, kv

    def frame(tokens, offset, key, cfg, *rest):
        out, text, audio_key, next_key, probs, kv = text_part(tokens, offset, key, cfg, *rest)
        parts = [text[:, None]]
        if s.codebooks:
            parts.append(depformer(out, text, audio_key, cfg))
        extras = () if probs is None else (probs,)
        return (mx.concatenate(parts, axis=1), next_key, *extras, *kv)

    def text_only(tokens, offset, key, cfg, *rest):
        out, text, audio_key, next_key, probs, kv = text_part(tokens, offset, key, cfg, *rest)
        extras = () if probs is None else (probs,)
        return (text, out, audio_key, next_key, *extras, *kv)

    def audio_only(out, text, key, cfg):
        return depformer(out, text, key, cfg)

    fn = {"frame": frame, "text": text_only, "audio": audio_only}[s.part]
    return mx.compile(fn)


class LmGen:
    """Owns one stream's state (KV cache, delay buffer, random key); `reset()` starts anew.

    `step(codes)` = `submit(codes)` + `collect()`: a caller may do other work (decode the
    previous frame, read the mic) between the two while the frame computes.

    codebooks: how many audio codebooks the depformer samples (default: all it has; fewer for
    PersonaPlex, whose depformer also predicts the user's, and for TTS run with fewer codebooks);
    the other audio streams are given by the caller, -1 meaning 'no input'.
    conditions: from `make_conditions` (one row, or two with cfg_coef != 1: conditioned, null).
    null_tokens: with CFG, maps (temporal input [1 + n_q], call) to the null row's input
    (Kyutai's cfg_is_no_text / masked prefixes); default: the same input.
    text_hook: (sampled text token, call) -> the token fed to the depformer and written to the
    buffer (the TTS state machine).
    cfg_text: with CFG, guide the text logits too (False: Kyutai's cfg_is_no_text, where the text
    is sampled from the conditioned row alone: TTS with a voice prefix).
    kv_bits: store the temporal KV cache quantized to 8 (or 4) bits (QuantizedRingKVCache): at 8
    bits about half a 16-bit cache's memory (0.28x a float32 one), attention through quantized
    matmuls."""

    def __init__(self, model: Lm, text_sampler=None, audio_sampler=None, seed: int | None = None,
                 dtype: mx.Dtype | None = None, *, codebooks: int | None = None,
                 conditions: Conditions | None = None, cfg_coef: float = 1.0,
                 null_tokens: Callable[[np.ndarray, int], np.ndarray] | None = None,
                 text_hook: TextHook | None = None, cfg_text: bool = True, kv_bits: int | None = None):
        self.model = model
        self.config = c = model.config
        self.text_sampler = text_sampler or make_sampler(TEXT_TEMPERATURE, top_k=TEXT_TOP_K)
        self.audio_sampler = audio_sampler or make_sampler(AUDIO_TEMPERATURE, top_k=AUDIO_TOP_K)
        self.dtype = dtype or activation_dtype()
        self.codebooks = c.dep_q if codebooks is None else codebooks
        if not 0 <= self.codebooks <= c.dep_q:
            raise ValueError(f"codebooks={codebooks}: the depformer predicts at most {c.dep_q}")
        self.rows = 1 if cfg_coef == 1 else 2
        self.kv_bits = kv_bits
        self.cfg_text = cfg_text or self.rows == 1
        conditions = conditions or Conditions()
        if c.is_conditioned and conditions.batch is None:
            raise ValueError("this model is conditioned: pass conditions (see make_conditions)")
        if conditions.batch not in (None, self.rows):
            raise ValueError(f"conditions have {conditions.batch} rows, expected {self.rows}")
        self.conditions = conditions
        self._cond = ([] if conditions.sum is None else [conditions.sum])
        self._cross_start = 0
        self._set_cross_kv(model.cross_kv(conditions.cross))
        self._cfg = mx.array(cfg_coef, dtype=mx.float32)
        self.null_tokens = null_tokens
        self.text_hook = text_hook
        initial = np.array([c.text_initial_token] + [c.audio_initial_token] * c.n_q, np.int64)
        self.buffer = DelayBuffer(c.delays, initial, self.codebooks)
        # Before the ring wraps, attend to a prefix of it, at most twice what has been written:
        # compiled variants C/64, C/32, .., C/2, C (Moshi: 46, 93, .., 1500, 3000 frames).
        self._lengths = sorted({max(1, c.context >> s) for s in range(7)})
        model.prepare(self.dtype)  # before tracing: the compiled steps capture its tables
        self.reset(seed)

    # -- compiled functions -------------------------------------------------------------------
    def _fn(self, length: int, part: str, codebooks: int | None = None, cross: bool | None = None):
        if part == "text":  # the depformer is not in it: one function whatever follows
            codebooks = 0
        cross = bool(self._cross_now()) if cross is None else cross
        shape = _Shape(self.dtype, self.text_sampler, self.audio_sampler,
                       self.codebooks if codebooks is None else codebooks, self.rows,
                       bool(self._cond), cross, length, part, self.cfg_text, self._kv.bits,
                       self._kv.layers[0].group_size if self._kv.layers else None)
        cache = step_functions(self.model)
        if shape not in cache:
            cache[shape] = _build(self.model, shape)
        return cache[shape]

    def _set_cross_kv(self, cross: list | None) -> None:
        self._cross = cross or []
        self._cross_flat = [a for kv in self._cross for a in kv]
        mx.eval(self._cross_flat)

    def _cross_now(self) -> list:
        """The cross-attention k, v fed to this call (none before the source's start call)."""
        return self._cross_flat if self._offset >= self._cross_start else []

    def set_cross(self, source: mx.array | None, start: int = 0) -> None:
        """A new cross-attention source from the next call on (MoshiVis: an image's projection,
        [rows, tokens, dim]): its keys and values are computed once, here. It is attended to from
        call `start` on (counted from the stream's start: Kyutai's xa_start); before, and with
        None, the layers skip their cross-attention. Stays across `reset`."""
        if self._pending is not None:
            raise RuntimeError("collect() the submitted frame before changing the cross source")
        self._cross_start = start
        self._set_cross_kv(self.model.cross_kv(source))

    def _length(self) -> int:
        return next(n for n in self._lengths if n > self._offset or n == self._lengths[-1])

    # -- state --------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Forget the stream: fresh KV cache, delay buffer and random key."""
        self._kv = self.model.make_cache(self.rows, self.dtype, self.kv_bits)
        self._offset = 0
        self.buffer.reset()
        self._key = mx.random.key(seed if seed is not None else secrets.randbits(63))
        self._pending = None

    def warmup(self) -> None:
        """Compile every variant now (each is traced on first use otherwise: a hiccup mid-call
        each time the conversation outgrows one). The stream's state is left as it was."""
        tokens = mx.array(np.repeat(self.buffer.initial[None], self.rows, 0), dtype=mx.int32)
        parts = ["text", "audio"] if self.text_hook else ["frame"]
        crosses = [self._cross_flat] + ([[]] if self._cross_flat and self._cross_start > 0 else [])
        for length in self._lengths:
            for cross in crosses:
                args = (tokens, mx.array(0, dtype=mx.int32), self._key, self._cfg, *self._cond,
                        *cross, *self._kv)
                for part in parts:
                    if part == "audio":
                        mx.eval(self._fn(length, part, cross=bool(cross))(out[1], out[0], self._key, self._cfg))
                    else:
                        out = self._fn(length, part, cross=bool(cross))(*args)
                        mx.eval(out)

    @property
    def offset(self) -> int:
        """Frames processed since the last reset."""
        return self._offset

    def snapshot(self) -> "GenState":
        """The stream's state (KV cache, delay buffer, offset, random key), e.g. after a prompt, to
        start later streams from it without running the prompt again (`restore`). MLX arrays are
        immutable: holding them costs no copy until the stream moves on."""
        if self._pending is not None:
            raise RuntimeError("collect() the submitted frame before taking a snapshot")
        return GenState(list(self._kv), self._offset, self.buffer.tokens.copy(), self.buffer.fixed.copy(),
                        self._key)

    def restore(self, state: "GenState") -> None:
        self._kv.arrays = list(state.kv)
        self._offset = state.offset
        self.buffer.tokens, self.buffer.fixed = state.tokens.copy(), state.fixed.copy()
        self._key = state.key
        self._pending = None

    # -- one frame ----------------------------------------------------------------------------
    def frame_input(self, user_codes) -> np.ndarray:
        """Store the caller's codes in the delay buffer; return the temporal input [1 + n_q]."""
        c, given = self.config, self.buffer.given
        codes = np.asarray(user_codes, dtype=np.int64).reshape(-1)
        if codes.size < given:
            raise ValueError(f"expected {given} user codes, got {codes.size}")
        codes = codes[:given]
        if ((codes < -1) | (codes > c.card)).any():  # card: Kyutai's initial / end-of-input token
            raise ValueError(f"user codes must be in [0, {c.card}], or -1 (no input), got {codes}")
        self.buffer.write_given(self._offset, codes)
        return self.buffer.input(self._offset)

    def provide(self, position: int, tokens) -> None:
        """Fix the tokens of a position ([1 + n_q], UNGENERATED where not fixed): they are fed as
        the input of call `position` and never overwritten by sampled tokens. `position` must be
        within the buffer: offset <= position <= offset + max_delay + 1."""
        if not self._offset <= position <= self._offset + self.buffer.length - 1:
            raise ValueError(f"position {position} is outside the delay buffer at offset {self._offset}")
        self.buffer.provide(position, tokens)

    def _rows(self, inputs: np.ndarray) -> mx.array:
        rows = [inputs]
        if self.rows == 2:
            rows.append(inputs if self.null_tokens is None else self.null_tokens(inputs.copy(), self._offset))
        return mx.array(np.stack(rows), dtype=mx.int32)

    def submit(self, user_codes) -> None:
        """Queue the computation of one frame (non-blocking)."""
        if self._pending is not None:
            raise RuntimeError("collect() the previous frame before submitting another")
        inputs = self.frame_input(user_codes)
        length = self._length()
        codebooks = 0 if self.buffer.all_fixed(self._offset + 1) else None
        args = [self._rows(inputs), mx.array(self._offset, dtype=mx.int32), self._key, self._cfg,
                *self._cond, *self._cross_now(), *self._kv]
        self._kv.release()
        extra = self.config.extra_heads_num_heads > 0
        # No reference to the old cache may outlive the call: MLX then updates the ring in place
        # (buffer donation) instead of copying it every frame (+25% step time at dim 128).
        fn = self._fn(length, "text" if self.text_hook else "frame", codebooks)
        outputs = fn(*args)
        del args
        if self.text_hook is None:
            tokens, self._key, *rest = outputs
            probs, self._kv.arrays = (rest[0], rest[1:]) if extra else (None, rest)
            mx.async_eval(tokens, self._key, *self._kv, *([probs] if extra else []))
            self._pending = (tokens, probs, None)
        else:
            text, out, audio_key, self._key, *rest = outputs
            probs, self._kv.arrays = (rest[0], rest[1:]) if extra else (None, rest)
            mx.async_eval(text, out, self._key, *self._kv, *([probs] if extra else []))
            self._pending = (text, probs, (out, audio_key, codebooks))

    def collect(self) -> StepOutput | None:
        """Wait for the submitted frame; None while the delays fill (the first max_delay calls)."""
        if self._pending is None:
            raise RuntimeError("nothing submitted")
        tokens, probs, split = self._pending
        self._pending = None
        if split is not None:  # the text decided on the host, then the depformer
            out, audio_key, codebooks = split
            text = self.text_hook(int(np.array(tokens)[0]), self._offset)
            parts = [np.array([text], np.int64)]
            if codebooks is None and self.codebooks:
                fn = self._fn(self._length(), "audio")
                parts.append(np.array(fn(out, mx.array([text], dtype=mx.int32), audio_key, self._cfg))[0])
            tokens = np.concatenate(parts).astype(np.int64)
        else:
            tokens = np.array(tokens, copy=False)[0].astype(np.int64)  # the one host sync
        return self.record(tokens, None if probs is None else np.array(probs)[0])

    def record(self, tokens: np.ndarray, extra: np.ndarray | None = None) -> StepOutput | None:
        """Write one frame's generated tokens (text, codebooks; fewer when the depformer was
        skipped) and read out the un-delayed frame."""
        out = self.buffer.record(self._offset, tokens)
        self._offset += 1
        if out is None:
            return None
        return StepOutput(int(out[0]), out[1:].astype(np.int32), extra)

    def step(self, user_codes) -> StepOutput | None:
        self.submit(user_codes)
        return self.collect()

    # -- prompts ------------------------------------------------------------------------------
    def prefill(self, frames: np.ndarray | None = None, *, embeddings=None) -> None:
        """Run the temporal inputs of calls offset .. offset+T-1 (`frames` [T, 1 + n_q], exactly as
        they are fed, initial tokens included) through the temporal transformer at once, without
        sampling: their outputs are discarded (prompts). Or `embeddings` [T, dim]: those inputs
        already embedded (PersonaPlex's stored voice prompts). The next call's input must then be
        provided (see `provide`)."""
        if (frames is None) == (embeddings is None):
            raise ValueError("prefill takes either frames or embeddings")
        cross = (self._cross or None) if self._offset >= self._cross_start else None
        cond = self._cond[0] if self._cond else None
        if embeddings is not None:
            x = mx.array(embeddings)
            if x.ndim != 2 or x.shape[1] != self.config.dim:
                raise ValueError(f"prefill takes embeddings [T, {self.config.dim}], got {x.shape}")
            x = mx.broadcast_to(x.astype(self.dtype)[None], (self.rows, *x.shape))
            if cond is not None:
                x = x + cond.astype(x.dtype)
            _, self._kv = self.model.prefill_embeddings(x, self._kv, self._offset, cross)
            count = x.shape[1]
        else:
            frames = np.asarray(frames, dtype=np.int64)
            if frames.ndim != 2 or frames.shape[1] != self.config.num_codebooks:
                raise ValueError(f"prefill takes frames [T, {self.config.num_codebooks}], got {frames.shape}")
            tokens = mx.array(np.stack([frames] * self.rows), dtype=mx.int32)
            _, self._kv = self.model.prefill(tokens, self._kv, self._offset, self.dtype, cond, cross)
            count = len(frames)
        mx.eval(self._kv.arrays)
        for _ in range(count):
            self.buffer.fixed[:, self._offset % self.buffer.length] = False
            self._offset += 1
