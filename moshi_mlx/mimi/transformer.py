"""Mimi's transformers: pre-norm LayerNorm, RoPE (interleaved), GELU MLP, LayerScale, causal with a
context window.

Streaming keeps, per layer, the keys/values of the last `context` positions in a fixed-size window
(constant memory for any stream length). This reproduces the PyTorch reference's ring KV cache of
capacity `context`: new keys are written first, then every query attends to the cached positions p
with 0 <= q - p < context. The RoPE position is the absolute stream position, as in the reference.
(mlx-lm's RotatingKVCache keeps `max_size + T - 1` entries for multi-position updates, so a query
would see one more key than the reference; hence this small window cache.)
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ..lm.linear import Linear
from ..lm.rope import rope
from .config import MimiConfig


def attention_mask(q_pos: mx.array, k_pos: mx.array, context: int) -> mx.array:
    """Bool [Tq, Tk]: key valid (position >= 0), not in the future, within the context."""
    delta = q_pos[:, None] - k_pos[None, :]
    return (k_pos[None, :] >= 0) & (delta >= 0) & (delta < context)


class Attention(nn.Module):
    def __init__(self, cfg: MimiConfig):
        super().__init__()
        self.num_heads, self.context, self.max_period = cfg.num_heads, cfg.context, cfg.max_period
        self.in_proj = Linear(cfg.dimension, 3 * cfg.dimension, bias=False)
        self.out_proj = Linear(cfg.dimension, cfg.dimension, bias=False)

    def _qkv(self, x: mx.array, positions: mx.array):
        B, T, C = x.shape
        qkv = self.in_proj(x).reshape(B, T, 3, self.num_heads, -1).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        return rope(q, positions, self.max_period), rope(k, positions, self.max_period), v

    def _attend(self, q, k, v, mask) -> mx.array:
        B, H, T, D = q.shape
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=D ** -0.5, mask=mask)
        return self.out_proj(out.transpose(0, 2, 1, 3).reshape(B, T, H * D))

    def __call__(self, x: mx.array, block: int = 512) -> mx.array:
        """Whole sequence at once. Queries go in blocks that only see the keys within their context,
        so memory grows linearly with the length."""
        T = x.shape[1]
        pos = mx.arange(T, dtype=mx.float32)
        q, k, v = self._qkv(x, pos)
        outs = []
        for start in range(0, T, block):
            end, first_key = min(T, start + block), max(0, start - self.context + 1)
            mask = attention_mask(pos[start:end], pos[first_key:end], self.context)
            outs.append(self._attend(q[:, :, start:end], k[:, :, first_key:end],
                                     v[:, :, first_key:end], mask))
        return mx.concatenate(outs, axis=1) if len(outs) > 1 else outs[0]

    def init_state(self, batch: int, head_dim: int) -> dict:
        shape = (batch, self.num_heads, self.context, head_dim)
        return {"keys": mx.zeros(shape), "values": mx.zeros(shape)}

    def step(self, x: mx.array, state: dict, offset: mx.array) -> tuple[mx.array, dict]:
        T = x.shape[1]
        if T > self.context:
            raise ValueError(f"streaming step of {T} positions exceeds the context {self.context}")
        q_pos = offset + mx.arange(T, dtype=mx.float32)
        q, k, v = self._qkv(x, q_pos)
        keys = mx.concatenate([state["keys"][:, :, T:], k], axis=2)
        values = mx.concatenate([state["values"][:, :, T:], v], axis=2)
        k_pos = offset + T - self.context + mx.arange(self.context, dtype=mx.float32)
        out = self._attend(q, keys, values, attention_mask(q_pos, k_pos, self.context))
        return out, {"keys": keys, "values": values}


class LayerScale(nn.Module):
    def __init__(self, dim: int, init: float):
        super().__init__()
        self.scale = mx.full((dim,), init)

    def __call__(self, x):
        return self.scale * x


class TransformerLayer(nn.Module):
    def __init__(self, cfg: MimiConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.norm1 = nn.LayerNorm(cfg.dimension, eps=1e-5)
        self.norm2 = nn.LayerNorm(cfg.dimension, eps=1e-5)
        self.linear1 = Linear(cfg.dimension, cfg.dim_feedforward, bias=False)
        self.linear2 = Linear(cfg.dim_feedforward, cfg.dimension, bias=False)
        self.layer_scale_1 = LayerScale(cfg.dimension, cfg.layer_scale)
        self.layer_scale_2 = LayerScale(cfg.dimension, cfg.layer_scale)

    def _mlp(self, x):
        return x + self.layer_scale_2(self.linear2(nn.gelu(self.linear1(self.norm2(x)))))

    def __call__(self, x):
        return self._mlp(x + self.layer_scale_1(self.self_attn(self.norm1(x))))

    def step(self, x, state, offset):
        y, state = self.self_attn.step(self.norm1(x), state, offset)
        return self._mlp(x + self.layer_scale_1(y)), state


class Transformer(nn.Module):
    """[B, T, dimension] -> [B, T, dimension]. Streaming state: per-layer windows + the position."""

    def __init__(self, cfg: MimiConfig):
        super().__init__()
        self.head_dim = cfg.head_dim
        self.layers = [TransformerLayer(cfg) for _ in range(cfg.num_layers)]

    def __call__(self, x: mx.array) -> mx.array:
        for layer in self.layers:
            x = layer(x)
        return x

    def init_state(self, batch: int) -> dict:
        return {"offset": mx.array(0.0),
                "layers": [l.self_attn.init_state(batch, self.head_dim) for l in self.layers]}

    def step(self, x: mx.array, state: dict) -> tuple[mx.array, dict]:
        offset, new_layers = state["offset"], []
        for layer, s in zip(self.layers, state["layers"]):
            x, s = layer.step(x, s, offset)
            new_layers.append(s)
        return x, {"offset": offset + x.shape[1], "layers": new_layers}
