"""Transformer blocks of the Moshi LM: RMSNorm, SiLU gating, attention with an explicit KV cache."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


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
    """Multi-head self-attention for one new position per call; q, k, v stacked in `in_proj`."""

    def __init__(self, dim: int, num_heads: int, rope_base: float | None):
        super().__init__()
        self.in_proj = nn.Linear(dim, 3 * dim, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.rope_base = rope_base

    def qkv(self, x: mx.array, offset) -> tuple[mx.array, mx.array, mx.array]:
        B, T, _ = x.shape
        qkv = self.in_proj(x).reshape(B, T, 3, self.num_heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        qk, v = qkv[:2], qkv[2]
        if self.rope_base is not None:  # q and k in one call; interleaved pairs (PyTorch interleave=True)
            qk = mx.fast.rope(qk, self.head_dim, traditional=True, base=self.rope_base, scale=1.0, offset=offset)
        return qk[0], qk[1], v

    def attend(self, q, keys, values, mask) -> mx.array:
        B, _, T, _ = q.shape
        out = mx.fast.scaled_dot_product_attention(q, keys, values, scale=self.scale, mask=mask)
        return self.out_proj(out.transpose(0, 2, 1, 3).reshape(B, T, -1))


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
    """One new position through `layers` with a ring KV cache of fixed capacity C per layer
    (kv = [k0, v0, k1, v1, ...], each [B, H, C, Dh]). The position `offset` (which grows without
    bound) goes to slot offset % C; slots not written yet are masked. Attention thus covers the
    last C positions, like PyTorch's RingKVCache with capacity = context.
    `length` < C (only while offset < length, before the ring wraps): attend to the first
    `length` slots only, which saves work early in a conversation."""
    capacity = kv[0].shape[2]
    length = capacity if length is None else min(length, capacity)
    mask = ring_mask(length, offset)
    new_kv = []
    for i, layer in enumerate(layers):
        attn = layer.self_attn
        q, k, v = attn.qkv(layer.norm1(x), offset)
        keys, values = ring_update(kv[2 * i], kv[2 * i + 1], k, v, offset)
        new_kv += [keys, values]
        if length < capacity:
            keys, values = keys[:, :, :length], values[:, :, :length]
        x = x + attn.attend(q, keys, values, mask)
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


def make_ring_cache(num_layers: int, batch: int, num_heads: int, head_dim: int, capacity: int,
                    dtype: mx.Dtype) -> list[mx.array]:
    return [mx.zeros((batch, num_heads, capacity, head_dim), dtype=dtype) for _ in range(2 * num_layers)]
