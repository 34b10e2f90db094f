"""Transformer blocks of the Moshi LM: RMSNorm, SiLU gating, attention with an explicit KV cache.

Generation only ever adds one position at a time, so the attention code is written for that case
with as few graph nodes as possible: on the CPU backend MLX's fast kernels (RMSNorm, RoPE, SDPA)
fall back to several ops each, and per-op dispatch, not arithmetic, is what a step costs at small
widths (see `moshi-mlx bench lm --dim 128`)."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np


class RMSNorm(nn.Module):
    """RMSNorm; with `f32` the statistics and the scaling run in float32 (Kyutai's rms_norm_f32)."""

    def __init__(self, dim: int, eps: float, f32: bool = True):
        super().__init__()
        self.weight = mx.ones((dim,))
        self.eps = eps
        self.f32 = f32

    def __call__(self, x: mx.array) -> mx.array:
        if self.f32 and x.dtype != mx.float32:
            return mx.fast.rms_norm(x.astype(mx.float32), self.weight.astype(mx.float32),
                                    self.eps).astype(x.dtype)
        w = self.weight if self.weight.dtype == x.dtype else self.weight.astype(x.dtype)
        return mx.fast.rms_norm(x, w, self.eps)


class Gating(nn.Module):
    """Gated feed-forward: linear_in -> [gate | up] -> act(gate) * up -> linear_out."""

    def __init__(self, dim: int, hidden: int, activation: str):
        super().__init__()
        self.linear_in = nn.Linear(dim, 2 * hidden, bias=False)
        self.linear_out = nn.Linear(hidden, dim, bias=False)
        self.act = nn.silu if activation == "silu" else nn.gelu

    def __call__(self, x: mx.array) -> mx.array:
        x = self.linear_in(x)
        gate, up = mx.split(x, 2, axis=-1)
        return self.linear_out(self.act(gate) * up)


class Attention(nn.Module):
    """Multi-head self-attention; q, k, v stacked in `in_proj`."""

    def __init__(self, dim: int, num_heads: int, rope_base: float | None):
        super().__init__()
        self.in_proj = nn.Linear(dim, 3 * dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.rope_base = rope_base

    def qkv(self, x: mx.array, rope: tuple[mx.array, mx.array] | None) -> mx.array:
        """x [B, 1, dim] (one position) -> q, k, v stacked [B, 3, H, Dh], q and k rotated by
        `rope` (see rope_tables)."""
        qkv = self.in_proj(x).reshape(x.shape[0], 3, self.num_heads, self.head_dim)
        return qkv if rope is None else apply_rope(qkv, *rope)


def rope_tables(position: mx.array | int, head_dim: int, base: float) -> tuple[mx.array, mx.array]:
    """Rotation of one position for `apply_rope`: (cos, signed sin), each [3, 1, Dh/2, 2]; the third
    row (the values) is the identity. Interleaved pairs (PyTorch's interleave=True), angles in
    float32 as in Kyutai's rope: position * base^(-2i/Dh)."""
    half = head_dim // 2
    freqs = mx.array(np.exp(np.arange(half, dtype=np.float32) * np.float32(-math.log(base) * 2 / head_dim)))
    angle = mx.array(position, dtype=mx.float32) * freqs
    cos, sin = mx.cos(angle)[:, None], mx.sin(angle)[:, None]
    sign = mx.array([-1.0, 1.0])
    qk_cos, qk_sin = mx.broadcast_to(cos, (half, 2)), sin * sign
    cos = mx.stack([qk_cos, qk_cos, mx.ones((half, 2))])[:, None]
    sin = mx.stack([qk_sin, qk_sin, mx.zeros((half, 2))])[:, None]
    return cos, sin


def apply_rope(qkv: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
    """Rotate each interleaved pair (x0, x1) of q and k: (x0 c - x1 s, x1 c + x0 s)."""
    shape = qkv.shape
    pairs = qkv.reshape(*shape[:-1], shape[-1] // 2, 2)
    rotated = pairs * cos + pairs[..., ::-1] * sin
    return rotated.astype(qkv.dtype).reshape(shape)


class Layer(nn.Module):
    """Pre-norm block: x + attn(norm1(x)), then x + gating(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, hidden: int, activation: str, eps: float,
                 rope_base: float | None, f32_norm: bool):
        super().__init__()
        self.self_attn = Attention(dim, num_heads, rope_base)
        self.gating = Gating(dim, hidden, activation)
        self.norm1 = RMSNorm(dim, eps, f32_norm)
        self.norm2 = RMSNorm(dim, eps, f32_norm)


class Transformer(nn.Module):
    def __init__(self, num_layers: int, **layer_kwargs):
        super().__init__()
        self.layers = [Layer(**layer_kwargs) for _ in range(num_layers)]


def ring_step(layers: list[Layer], x: mx.array, kv: list[mx.array], offset: mx.array,
              length: int | None = None) -> tuple[mx.array, list[mx.array]]:
    """One new position x [B, 1, dim] through `layers` with a ring KV cache of fixed capacity C per
    layer (kv = [k0, v0, k1, v1, ...], each [B, H, C, Dh]). The position `offset` (which grows
    without bound) goes to slot offset % C; slots not written yet are masked. Attention thus covers
    the last C positions, like PyTorch's RingKVCache with capacity = context.
    `length` < C (only while offset < length, before the ring wraps): attend to the first
    `length` slots only, which saves work early in a conversation."""
    B, T, _ = x.shape
    if T != 1:
        raise ValueError(f"ring_step takes one position at a time, got {T}")
    capacity = kv[0].shape[2]
    length = capacity if length is None else min(length, capacity)
    mask = ring_mask(length, offset)
    first = layers[0].self_attn
    rope = None if first.rope_base is None else rope_tables(offset, first.head_dim, first.rope_base)
    new_kv = []
    for i, layer in enumerate(layers):
        attn = layer.self_attn
        H, Dh = attn.num_heads, attn.head_dim
        q, k, v = (a.reshape(B, H, 1, Dh) for a in mx.split(attn.qkv(layer.norm1(x), rope), 3, axis=1))
        keys, values = ring_update(kv[2 * i], kv[2 * i + 1], k, v, offset)
        new_kv += [keys, values]
        if length < capacity:
            keys, values = keys[:, :, :length], values[:, :, :length]
        if q.dtype != keys.dtype:  # a 16-bit cache under float32 activations (see kv_cache_dtype)
            q = q.astype(keys.dtype)
        out = mx.fast.scaled_dot_product_attention(q, keys, values, scale=attn.scale, mask=mask)
        x = x + attn.out_proj(out.reshape(B, 1, -1).astype(x.dtype))
        x = x + layer.gating(layer.norm2(x))
    return x, new_kv


def ring_mask(length: int, offset: mx.array) -> mx.array:
    """Valid slots among the first `length` of the ring once position `offset` is written."""
    return mx.arange(length) <= offset


def ring_update(keys: mx.array, values: mx.array, k: mx.array, v: mx.array, offset: mx.array):
    """Write position `offset` into slot offset % C of the ring [B, H, C, Dh]."""
    capacity = keys.shape[2]
    slot = mx.remainder(offset, capacity).reshape(1)
    if k.dtype != keys.dtype:
        k, v = k.astype(keys.dtype), v.astype(values.dtype)
    keys = mx.slice_update(keys, k, slot, axes=(2,))
    values = mx.slice_update(values, v, slot, axes=(2,))
    return keys, values


def kv_cache_dtype(activations: mx.Dtype, cache_elements: int) -> mx.Dtype:
    """The ring's dtype: the activations', except that a float32 ring over 1 GiB is kept in bfloat16
    with its attention computed in bfloat16. Moshi 7B's 3000-frame ring is 2.9 GiB in float32 (it
    would not fit an 8 GB machine next to the 4-bit weights), 1.5 GiB in bfloat16; on the CPU backend
    that attention then costs ~1.5x its float32 time, ~4% of a 7B step (`moshi-mlx bench lm`)."""
    if activations == mx.float32 and cache_elements * 4 > 1 << 30:
        return mx.bfloat16
    return activations


def make_ring_cache(num_layers: int, batch: int, num_heads: int, head_dim: int, capacity: int,
                    dtype: mx.Dtype) -> list[mx.array]:
    return [mx.zeros((batch, num_heads, capacity, head_dim), dtype=dtype) for _ in range(2 * num_layers)]
