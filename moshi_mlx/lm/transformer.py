"""Transformer blocks of the Moshi LM: RMSNorm, SiLU gating, attention with an explicit KV cache.

Generation only ever adds one position at a time, so the attention code is written for that case
with as few graph nodes as possible: on the CPU backend MLX's fast kernels (RMSNorm, RoPE, SDPA)
fall back to several ops each, and per-op dispatch, not arithmetic, is what a step costs at small
widths (see `moshi-mlx bench lm --dim 128`).

`Layer.__call__(x, mask, cache, rope, source)` runs one position (a generation step) and several
(a prompt's prefill) alike; the caller owns the caches (kv_cache.py)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from .kv_cache import (LayerCaches, RingKVCache, kv_cache_dtype, make_ring_cache, ring_mask,  # noqa: F401
                       ring_update, ring_write)
from .linear import Linear
from .rope import apply_rope, pair_shape, rotate_pairs, rope_tables


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
        self.linear_in = Linear(dim, 2 * hidden, bias=False)
        self.linear_out = Linear(hidden, dim, bias=False)
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
        self.in_proj = Linear(dim, dim + 2 * self.kv_heads * self.head_dim, bias=False)
        self.out_proj = Linear(dim, dim, bias=False)
        self.scale = self.head_dim ** -0.5
        self.rope_base = rope_base
        self.interleave = interleave

    @property
    def grouped(self) -> bool:
        return self.kv_heads != self.num_heads

    def qkv(self, x: mx.array, rope: tuple[mx.array, mx.array] | None, flat: bool = True) -> mx.array:
        """x [B, 1, dim] (one position) -> q, k, v stacked [B, 3, H, Dh], q and k rotated by
        `rope` (see rope_tables). Only without grouped heads (see `project`). flat=False with a
        rope: the rotation's pair layout [B, 3, H, Dh/2, 2] (or [.., 2, Dh/2]), one reshape fewer."""
        shape = (x.shape[0], 3, self.num_heads, self.head_dim)
        if rope is None:
            return self.in_proj(x).reshape(shape)
        pairs = rotate_pairs(self.in_proj(x).reshape(pair_shape(shape, self.interleave)), *rope, self.interleave)
        return pairs.reshape(shape) if flat else pairs

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

    def heads(self, x: mx.array, rope: tuple[mx.array, mx.array] | None
              ) -> tuple[mx.array, mx.array, mx.array]:
        """`project` with the fewest graph nodes for each layout: x [B, T, dim] -> q [B, H, T, Dh],
        k and v [B, kv_heads, T, Dh]; `rope` from `Transformer.rope_for`."""
        B, T, _ = x.shape
        if T == 1 and not self.grouped:  # [B, 3H, 1, Dh] split on its head axis: q, k, v as
            # [B, H, 1, Dh] views, two graph nodes (no transposes, no copies)
            y = self.in_proj(x) if rope is None else self.qkv(x, rope, flat=False)
            return tuple(mx.split(y.reshape(B, 3 * self.num_heads, 1, self.head_dim), 3, axis=1))
        return self.project(x, rope)

    def __call__(self, x: mx.array, mask: mx.array | None, cache: RingKVCache,
                 rope: tuple[mx.array, mx.array] | None) -> mx.array:
        """x [B, T, dim] at the cache's offset; `rope` from `Transformer.rope_for`."""
        B, T, _ = x.shape
        q, k, v = self.heads(x, rope)
        keys, values = cache.update_and_fetch(k, v)
        out = cache.attend(q, keys, values, self.scale, mask)
        out = out.reshape(B, 1, -1) if T == 1 else out.transpose(0, 2, 1, 3).reshape(B, T, -1)
        return self.out_proj(out.astype(x.dtype))


class CrossAttention(nn.Module):
    """Attention from the frames to a fixed source (TTS speaker conditions): no mask, no RoPE.
    Kyutai stacks q, k, v in one `in_proj_weight`; k and v of the source are computed once per
    conversation (`source_kv`)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q_proj = Linear(dim, dim, bias=False)
        self.kv_proj = Linear(dim, 2 * dim, bias=False)
        self.out_proj = Linear(dim, dim, bias=False)
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

    def __call__(self, x: mx.array, mask: mx.array | None, cache: RingKVCache,
                 rope: tuple[mx.array, mx.array] | None, source: tuple[mx.array, mx.array] | None = None
                 ) -> mx.array:
        """x [B, T, dim] (one position or several) through the block, its keys and values written
        to `cache`; `source`: the cross-attention's k, v (see `cross`)."""
        x = x + self.self_attn(self.norm1(x), mask, cache, rope)
        x = self.cross(x, source)
        return x + self.gating(self.norm2(x))

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

    def __call__(self, x: mx.array, cache: LayerCaches, cross: list | None = None) -> mx.array:
        """x [B, T, dim] at positions cache.offset .. offset+T-1 through every layer (the caches
        advance by T). One position (T = 1, a generation step) attends to the cache's window (its
        `length` prefix before the ring wraps); several (prefill) to the ring and the earlier
        positions of the chunk, exactly as T steps would. `cross`: per layer, the (k, v) of the
        cross-attention source (see CrossAttention.source_kv)."""
        T = x.shape[1]
        first = cache.layers[0]
        mask = first.make_mask(T)
        rope = self.rope_for(first.offset, T)
        for i, (layer, c) in enumerate(zip(self.layers, cache.layers)):
            x = layer(x, mask, c, rope, None if cross is None else cross[i])
        return x

    def rope_for(self, offset: int | mx.array, T: int) -> tuple[mx.array, mx.array] | None:
        """The rotation tables of positions offset .. offset+T-1 in the layout the attention takes:
        stacked with v for one position without grouped heads (see Attention.qkv)."""
        attn = self.layers[0].self_attn
        if attn.rope_base is None:
            return None
        if T == 1 and not attn.grouped:
            return rope_tables(offset, attn.head_dim, attn.rope_base, attn.interleave)
        if T == 1:
            positions = offset.reshape(1) if isinstance(offset, mx.array) else mx.array([offset])
        else:
            positions = mx.array(int(offset) + np.arange(T))
        return rope_tables(positions, attn.head_dim, attn.rope_base, attn.interleave, stacked=False)
