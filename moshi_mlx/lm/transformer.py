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
    """Multi-head self-attention; q, k, v stacked in `in_proj`. With `kv_heads` < `num_heads`
    (grouped-query attention, Kyutai's kv_repeat) k and v have kv_heads heads each."""

    def __init__(self, dim: int, num_heads: int, rope_base: float | None, kv_heads: int | None = None,
                 interleave: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.kv_heads = kv_heads or num_heads
        self.head_dim = dim // num_heads
        self.in_proj = nn.Linear(dim, dim + 2 * self.kv_heads * self.head_dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)
        self.scale = self.head_dim ** -0.5
        self.rope_base = rope_base
        self.interleave = interleave

    @property
    def grouped(self) -> bool:
        return self.kv_heads != self.num_heads

    def qkv(self, x: mx.array, rope: tuple[mx.array, mx.array] | None) -> mx.array:
        """x [B, 1, dim] (one position) -> q, k, v stacked [B, 3, H, Dh], q and k rotated by
        `rope` (see rope_tables). Only without grouped heads (see `project`)."""
        qkv = self.in_proj(x).reshape(x.shape[0], 3, self.num_heads, self.head_dim)
        return qkv if rope is None else apply_rope(qkv, *rope, self.interleave)

    def project(self, x: mx.array, rope: tuple[mx.array, mx.array] | None
                ) -> tuple[mx.array, mx.array, mx.array]:
        """x [B, T, dim] -> q [B, H, T, Dh], k and v [B, kv_heads, T, Dh]; q and k rotated by
        `rope` = rope_tables(positions [T], ..., stacked=False)."""
        B, T, _ = x.shape
        H, Hk, Dh = self.num_heads, self.kv_heads, self.head_dim
        y = self.in_proj(x)
        qk = y[..., :(H + Hk) * Dh].reshape(B, T, H + Hk, Dh).transpose(0, 2, 1, 3)
        v = y[..., (H + Hk) * Dh:].reshape(B, T, Hk, Dh).transpose(0, 2, 1, 3)
        if rope is not None:
            qk = apply_rope(qk, *rope, self.interleave)
        return qk[:, :H], qk[:, H:], v


class CrossAttention(nn.Module):
    """Attention from the frames to a fixed source (TTS speaker conditions): no mask, no RoPE.
    Kyutai stacks q, k, v in one `in_proj_weight`; k and v of the source are computed once per
    conversation (`source_kv`)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.kv_proj = nn.Linear(dim, 2 * dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)
        self.scale = self.head_dim ** -0.5

    def source_kv(self, src: mx.array) -> tuple[mx.array, mx.array]:
        B, T, _ = src.shape
        kv = self.kv_proj(src).reshape(B, T, 2, self.num_heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        return kv[0], kv[1]

    def __call__(self, x: mx.array, keys: mx.array, values: mx.array) -> mx.array:
        B, T, _ = x.shape
        if T == 1:  # one frame (every generation step): [B, 1, H*Dh] is [B, H, 1, Dh], no transposes
            q = self.q_proj(x).reshape(B, self.num_heads, 1, self.head_dim)
        else:
            q = self.q_proj(x).reshape(B, T, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)
        if q.dtype != keys.dtype:
            q = q.astype(keys.dtype)
        out = mx.fast.scaled_dot_product_attention(q, keys, values, scale=self.scale)
        out = out.reshape(B, 1, -1) if T == 1 else out.transpose(0, 2, 1, 3).reshape(B, T, -1)
        return self.out_proj(out.astype(x.dtype))


def _frequencies(head_dim: int, base: float) -> mx.array:
    half = head_dim // 2
    return mx.array(np.exp(np.arange(half, dtype=np.float32) * np.float32(-math.log(base) * 2 / head_dim)))


def rope_tables(position: mx.array | int, head_dim: int, base: float, interleave: bool = True,
                stacked: bool = True) -> tuple[mx.array, mx.array]:
    """Rotation tables for `apply_rope`: (cos, signed sin). Angles in float32 as in Kyutai's rope:
    position * base^(-2i/Dh). `interleave`: pairs (x[2i], x[2i+1]) (Kyutai's "rope"), else halves
    (x[i], x[i + Dh/2]) ("rope_concat").
    stacked (one position, for `Attention.qkv`'s [B, 3, H, Dh]): each [3, 1, Dh/2, 2] (or
    [3, 1, 2, Dh/2]); the third row (the values) is the identity.
    Not stacked: `position` is a [T] array of positions; each table [T, Dh/2, 2] (or [T, 2, Dh/2])
    for q or k laid out [B, H, T, Dh]."""
    half = head_dim // 2
    angle = mx.array(position, dtype=mx.float32)[..., None] * _frequencies(head_dim, base)
    cos, sin = mx.cos(angle)[..., None], mx.sin(angle)[..., None]  # [..., Dh/2, 1]
    sign = mx.array([-1.0, 1.0])
    qk_cos, qk_sin = mx.broadcast_to(cos, (*cos.shape[:-1], 2)), sin * sign  # [..., Dh/2, 2]
    if not interleave:
        qk_cos, qk_sin = mx.swapaxes(qk_cos, -1, -2), mx.swapaxes(qk_sin, -1, -2)
    if not stacked:
        return qk_cos, qk_sin
    ones = mx.ones(qk_cos.shape)
    return mx.stack([qk_cos, qk_cos, ones])[:, None], mx.stack([qk_sin, qk_sin, ones * 0])[:, None]


def apply_rope(x: mx.array, cos: mx.array, sin: mx.array, interleave: bool = True) -> mx.array:
    """Rotate each pair (x0, x1) of q and k: (x0 c - x1 s, x1 c + x0 s). Pairs are interleaved
    (..., Dh/2, 2) or halves (..., 2, Dh/2)."""
    shape = x.shape
    if interleave:
        pairs = x.reshape(*shape[:-1], shape[-1] // 2, 2)
        swapped = pairs[..., ::-1]
    else:
        pairs = x.reshape(*shape[:-1], 2, shape[-1] // 2)
        swapped = pairs[..., ::-1, :]
    rotated = pairs * cos + swapped * sin
    return rotated.astype(x.dtype).reshape(shape)


class Layer(nn.Module):
    """Pre-norm block: x + attn(norm1(x)), [x + cross_attention(norm_cross(x))], then
    x + gating(norm2(x)). Kyutai's cross-attention norm is always a LayerNorm."""

    def __init__(self, dim: int, num_heads: int, hidden: int, activation: str, eps: float,
                 rope_base: float | None, f32_norm: bool, kv_heads: int | None = None,
                 interleave: bool = True, cross_attention: bool = False):
        super().__init__()
        self.self_attn = Attention(dim, num_heads, rope_base, kv_heads, interleave)
        self.gating = Gating(dim, hidden, activation)
        self.norm1 = RMSNorm(dim, eps, f32_norm)
        self.norm2 = RMSNorm(dim, eps, f32_norm)
        if cross_attention:
            self.cross_attention = CrossAttention(dim, num_heads)
            self.norm_cross = nn.LayerNorm(dim, eps=1e-5)

    def cross(self, x: mx.array, source: tuple[mx.array, mx.array] | None) -> mx.array:
        """The cross-attention to `source` (its k, v), if this layer has one and a source is given.
        MoshiVis (see moshi_mlx/vis/lm.py): one cross-attention shared by all layers, then this
        layer's gate; without a source (no image yet) the layer skips it, as Kyutai's does."""
        if source is None or "norm_cross" not in self:
            return x
        if "cross_gate" in self:
            return x + self.cross_gate(self.shared_cross(self.norm_cross(x), *source))
        return x + self.cross_attention(self.norm_cross(x), *source)


class Transformer(nn.Module):
    def __init__(self, num_layers: int, **layer_kwargs):
        super().__init__()
        self.layers = [Layer(**layer_kwargs) for _ in range(num_layers)]


def ring_step(layers: list[Layer], x: mx.array, kv: list[mx.array], offset: mx.array,
              length: int | None = None, cross: list | None = None) -> tuple[mx.array, list[mx.array]]:
    """One new position x [B, 1, dim] through `layers` with a ring KV cache of fixed capacity C per
    layer (kv = [k0, v0, k1, v1, ...], each [B, kv_heads, C, Dh]). The position `offset` (which grows
    without bound) goes to slot offset % C; slots not written yet are masked. Attention thus covers
    the last C positions, like PyTorch's RingKVCache with capacity = context.
    `length` < C (only while offset < length, before the ring wraps): attend to the first
    `length` slots only, which saves work early in a conversation. `cross`: per layer, the (k, v)
    of the cross-attention source (see CrossAttention.source_kv)."""
    B, T, _ = x.shape
    if T != 1:
        raise ValueError(f"ring_step takes one position at a time, got {T}")
    capacity = kv[0].shape[2]
    length = capacity if length is None else min(length, capacity)
    mask = ring_mask(length, offset)
    first = layers[0].self_attn
    rope = None
    if first.rope_base is not None:
        rope = (rope_tables(offset.reshape(1), first.head_dim, first.rope_base, first.interleave, stacked=False)
                if first.grouped else
                rope_tables(offset, first.head_dim, first.rope_base, first.interleave))
    new_kv = []
    for i, layer in enumerate(layers):
        attn = layer.self_attn
        H, Dh = attn.num_heads, attn.head_dim
        if attn.grouped:
            q, k, v = attn.project(layer.norm1(x), rope)
        else:
            q, k, v = (a.reshape(B, H, 1, Dh) for a in mx.split(attn.qkv(layer.norm1(x), rope), 3, axis=1))
        keys, values = ring_update(kv[2 * i], kv[2 * i + 1], k, v, offset)
        new_kv += [keys, values]
        if length < capacity:
            keys, values = keys[:, :, :length], values[:, :, :length]
        if q.dtype != keys.dtype:  # a 16-bit cache under float32 activations (see kv_cache_dtype)
            q = q.astype(keys.dtype)
        out = mx.fast.scaled_dot_product_attention(q, keys, values, scale=attn.scale, mask=mask)
        x = x + attn.out_proj(out.reshape(B, 1, -1).astype(x.dtype))
        x = layer.cross(x, None if cross is None else cross[i])
        x = x + layer.gating(layer.norm2(x))
    return x, new_kv


def ring_prefill(layers: list[Layer], x: mx.array, kv: list[mx.array], offset: int,
                 cross: list | None = None) -> tuple[mx.array, list[mx.array]]:
    """Several new positions x [B, T, dim] (positions offset .. offset+T-1) at once: each attends to
    itself, the earlier positions of the chunk and the ring's, within the last C positions (exactly
    what T calls of ring_step compute), then the chunk is written into the ring."""
    B, T, _ = x.shape
    capacity = kv[0].shape[2]
    # Before the ring wraps (a prompt at the start of a stream), only its first `offset` slots hold
    # positions, and all of them are in every new position's window: attend to those alone.
    used = offset if offset + T <= capacity else capacity
    slots = np.arange(used)
    last = offset - 1  # the ring holds positions <= last: slot s has the latest p = s (mod C)
    ring_pos = last - np.mod(last - slots, capacity)
    pos_q = offset + np.arange(T)
    pos_k = np.concatenate([ring_pos, pos_q])
    delta = pos_q[:, None] - pos_k[None, :]
    valid = np.concatenate([ring_pos >= 0, np.ones(T, bool)])[None, :]
    mask = mx.array(valid & (delta >= 0) & (delta < capacity))
    first = layers[0].self_attn
    rope = None if first.rope_base is None else rope_tables(
        mx.array(pos_q), first.head_dim, first.rope_base, first.interleave, stacked=False)
    new_kv = []
    for i, layer in enumerate(layers):
        attn = layer.self_attn
        q, k, v = attn.project(layer.norm1(x), rope)
        ring_k, ring_v = kv[2 * i], kv[2 * i + 1]
        keys = mx.concatenate([ring_k[:, :, :used], k.astype(ring_k.dtype)], axis=2)
        values = mx.concatenate([ring_v[:, :, :used], v.astype(ring_v.dtype)], axis=2)
        out = mx.fast.scaled_dot_product_attention(q.astype(keys.dtype), keys, values,
                                                   scale=attn.scale, mask=mask)
        x = x + attn.out_proj(out.transpose(0, 2, 1, 3).reshape(B, T, -1).astype(x.dtype))
        x = layer.cross(x, None if cross is None else cross[i])
        x = x + layer.gating(layer.norm2(x))
        new_kv += [ring_write(ring_k, k, offset), ring_write(ring_v, v, offset)]
    return x, new_kv


def ring_write(ring: mx.array, chunk: mx.array, offset: int) -> mx.array:
    """The ring [B, H, C, Dh] with positions offset .. offset+T-1 of `chunk` [B, H, T, Dh] written
    into their slots (position % C); of a chunk longer than C only the last C positions stay."""
    capacity, T = ring.shape[2], chunk.shape[2]
    chunk = chunk.astype(ring.dtype)
    if T > capacity:
        offset, chunk, T = offset + T - capacity, chunk[:, :, T - capacity:], capacity
    start = offset % capacity
    first = min(T, capacity - start)
    ring = mx.slice_update(ring, chunk[:, :, :first], mx.array([start]), axes=(2,))
    if first < T:  # the chunk wraps around the end of the ring
        ring = mx.slice_update(ring, chunk[:, :, first:], mx.array([0]), axes=(2,))
    return ring


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
