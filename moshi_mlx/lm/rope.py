"""Rotary position embedding, the one implementation of the LM, its depformer and Mimi.

Angles in float32 as in Kyutai's rope: position * base^(-2i/Dh), the frequencies computed once in
numpy float32. Pairs are interleaved, (x[2i], x[2i+1]) (Kyutai's "rope"), or halves,
(x[i], x[i + Dh/2]) ("rope_concat"). Each pair (x0, x1) becomes (x0 c - x1 s, x1 c + x0 s)."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np


def rope_frequencies(head_dim: int, base: float) -> mx.array:
    """base^(-2i/Dh) for i < Dh/2, float32."""
    half = head_dim // 2
    return mx.array(np.exp(np.arange(half, dtype=np.float32) * np.float32(-math.log(base) * 2 / head_dim)))


def rope_tables(position: mx.array | int, head_dim: int, base: float, interleave: bool = True,
                stacked: bool = True) -> tuple[mx.array, mx.array]:
    """Rotation tables for `apply_rope`: (cos, signed sin).
    stacked (one position, for the LM attention's q, k, v stacked [B, 3, H, Dh]): each
    [3, 1, Dh/2, 2] (or [3, 1, 2, Dh/2]); the third row (the values) is the identity.
    Not stacked: `position` is a [T] array of positions; each table [T, Dh/2, 2] (or [T, 2, Dh/2])
    for q or k laid out [B, H, T, Dh]."""
    angle = mx.array(position, dtype=mx.float32)[..., None] * rope_frequencies(head_dim, base)
    cos, sin = mx.cos(angle)[..., None], mx.sin(angle)[..., None]  # [..., Dh/2, 1]
    sign = mx.array([-1.0, 1.0])
    qk_cos, qk_sin = mx.broadcast_to(cos, (*cos.shape[:-1], 2)), sin * sign  # [..., Dh/2, 2]
    if not interleave:
        qk_cos, qk_sin = mx.swapaxes(qk_cos, -1, -2), mx.swapaxes(qk_sin, -1, -2)
    if not stacked:
        return qk_cos, qk_sin
    ones = mx.ones(qk_cos.shape)
    return mx.stack([qk_cos, qk_cos, ones])[:, None], mx.stack([qk_sin, qk_sin, ones * 0])[:, None]


def pair_shape(shape: tuple[int, ...], interleave: bool = True) -> tuple[int, ...]:
    """`shape` with its last axis Dh split into the pairs `rotate_pairs` takes."""
    half = shape[-1] // 2
    return (*shape[:-1], half, 2) if interleave else (*shape[:-1], 2, half)


def rotate_pairs(pairs: mx.array, cos: mx.array, sin: mx.array, interleave: bool = True) -> mx.array:
    """`apply_rope` on x already reshaped to pair_shape (the result keeps that shape): a caller
    that reshapes anyway saves the two reshapes, graph nodes of every frame."""
    swapped = pairs[..., ::-1] if interleave else pairs[..., ::-1, :]
    return (pairs * cos + swapped * sin).astype(pairs.dtype)


def apply_rope(x: mx.array, cos: mx.array, sin: mx.array, interleave: bool = True) -> mx.array:
    """Rotate each pair of x's last axis by the tables of `rope_tables`."""
    return rotate_pairs(x.reshape(pair_shape(x.shape, interleave)), cos, sin, interleave).reshape(x.shape)


def rope(x: mx.array, positions: mx.array, base: float, interleave: bool = True) -> mx.array:
    """x [B, H, T, Dh] rotated at positions [T] (Mimi's transformer)."""
    return apply_rope(x, *rope_tables(positions, x.shape[-1], base, interleave, stacked=False), interleave)
