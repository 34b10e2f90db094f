"""The Moshi LM: temporal transformer over frames + depformer over the codebooks of one frame.

Parameter names are those of Kyutai's MLX releases (see weights.py for the PyTorch mapping)."""

from __future__ import annotations

from typing import Callable

import mlx.core as mx
import mlx.nn as nn

from .config import LmConfig
from .transformer import RMSNorm, Transformer, make_ring_cache, ring_step

Sampler = Callable[[mx.array, mx.array], mx.array]  # (logits [B, V], key) -> tokens [B]


class DepformerSlice(nn.Module):
    """Everything the depformer uses at codebook step k (its own weights, 'weights per step')."""

    def __init__(self, config: LmConfig, in_vocab: int):
        super().__init__()
        c = config
        self.emb = nn.Embedding(in_vocab, c.depformer_dim)
        self.linear_in = nn.Linear(c.dim, c.depformer_dim, bias=False)
        self.linear_out = nn.Linear(c.depformer_dim, c.card, bias=False)
        rope = c.depformer_max_period if c.depformer_pos_emb == "rope" else None
        self.transformer = Transformer(
            c.depformer_num_layers, dim=c.depformer_dim, num_heads=c.depformer_num_heads,
            hidden=c.depformer_hidden_dim, activation=c.depformer_activation, eps=c.norm_eps,
            rope_base=rope, f32_norm=c.norm == "rms_norm_f32")


class Depformer(nn.Module):
    def __init__(self, config: LmConfig):
        super().__init__()
        self.slices = [DepformerSlice(config, config.text_card + 1 if k == 0 else config.card + 1)
                       for k in range(config.dep_q)]

    def step(self, k: int, temporal_out: mx.array, prev_token: mx.array,
             kv: list[list[mx.array]]) -> mx.array:
        """Logits [B, card] of codebook k. `kv` (per layer [keys..., values...]) holds the keys and
        values of steps 0..k-1 of this frame and is extended in place."""
        s = self.slices[k]
        x = s.linear_in(temporal_out) + s.emb(prev_token)[:, None]
        for layer, cache in zip(s.transformer.layers, kv):
            attn = layer.self_attn
            q, key, value = attn.qkv(layer.norm1(x), k)
            cache[0].append(key)
            cache[1].append(value)
            if k == 0:  # a single key: softmax weight 1, the output is the value itself
                B = value.shape[0]
                x = x + attn.out_proj(value.transpose(0, 2, 1, 3).reshape(B, 1, -1))
            else:
                keys, values = mx.concatenate(cache[0], axis=2), mx.concatenate(cache[1], axis=2)
                x = x + attn.attend(q, keys, values, None)
            x = x + layer.gating(layer.norm2(x))
        return s.linear_out(x)[:, 0]

    def new_cache(self) -> list[list[list[mx.array]]]:
        n_layers = len(self.slices[0].transformer.layers) if self.slices else 0
        return [[[], []] for _ in range(n_layers)]


class Lm(nn.Module):
    """Moshi's RQ-transformer. Stateless: the caller owns the caches (see LmGen)."""

    def __init__(self, config: LmConfig):
        super().__init__()
        c = config
        self.config = c
        self.text_emb = nn.Embedding(c.text_card + 1, c.dim)
        self.audio_embs = [nn.Embedding(c.card + 1, c.dim) for _ in range(c.n_q)]
        rope = c.max_period if c.positional_embedding == "rope" else None
        self.transformer = Transformer(
            c.num_layers, dim=c.dim, num_heads=c.num_heads, hidden=c.hidden_dim,
            activation=c.gating, eps=c.norm_eps, rope_base=rope, f32_norm=c.norm == "rms_norm_f32")
        self.out_norm = RMSNorm(c.dim, c.norm_eps, c.norm == "rms_norm_f32")
        self.text_linear = nn.Linear(c.dim, c.text_out_vocab, bias=False)
        self.depformer = Depformer(c)

    def make_cache(self, batch: int = 1, dtype: mx.Dtype = mx.float32) -> list[mx.array]:
        """Temporal ring KV cache: `context` frames per layer, constant memory forever."""
        c = self.config
        return make_ring_cache(c.num_layers, batch, c.num_heads, c.head_dim, c.context, dtype)

    def embed_frame(self, tokens: mx.array, dtype: mx.Dtype) -> mx.array:
        """tokens [B, 1 + n_q] (text, then audio streams) -> summed embeddings [B, 1, dim].
        Token -1 (Kyutai's 'zero token': no input) contributes exact zeros."""
        is_zero = (tokens == -1)[..., None]
        tokens = mx.maximum(tokens, 0)
        x = mx.where(is_zero[:, 0], 0.0, self.text_emb(tokens[:, 0]))
        for i, emb in enumerate(self.audio_embs):
            x = x + mx.where(is_zero[:, 1 + i], 0.0, emb(tokens[:, 1 + i]))
        x = x[:, None]
        return x if x.dtype == dtype else x.astype(dtype)

    def temporal(self, tokens: mx.array, kv: list[mx.array], offset: mx.array,
                 dtype: mx.Dtype = mx.float32, length: int | None = None,
                 ) -> tuple[mx.array, mx.array, list[mx.array]]:
        """One frame through the temporal transformer at position `offset` (see ring_step for
        `length`). Returns (normed output [B, 1, dim], text logits [B, text_out_vocab], new kv)."""
        x, kv = ring_step(self.transformer.layers, self.embed_frame(tokens, dtype), kv, offset, length)
        out = self.out_norm(x)
        return out, self.text_linear(out)[:, 0], kv

    def depformer_logits(self, temporal_out: mx.array, prev_tokens: mx.array) -> mx.array:
        """Teacher-forced depformer: prev_tokens [B, dep_q] = (text token, codebooks 0..dep_q-2).
        Returns logits [B, dep_q, card]."""
        kv = self.depformer.new_cache()
        return mx.stack([self.depformer.step(k, temporal_out, prev_tokens[:, k], kv)
                         for k in range(self.config.dep_q)], axis=1)

    def depformer_sample(self, temporal_out: mx.array, text_token: mx.array, sampler: Sampler,
                         keys: mx.array) -> mx.array:
        """Sample the dep_q codebooks of one frame: tokens [B, dep_q] (keys: [dep_q, 2])."""
        kv = self.depformer.new_cache()
        prev, tokens = text_token, []
        for k in range(self.config.dep_q):
            prev = sampler(self.depformer.step(k, temporal_out, prev, kv), keys[k])
            tokens.append(prev)
        return mx.stack(tokens, axis=1)
