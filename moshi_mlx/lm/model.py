"""The Moshi LM: temporal transformer over frames + depformer over the codebooks of one frame.

Parameter names are those of Kyutai's MLX releases (see weights.py for the PyTorch mapping)."""

from __future__ import annotations

from typing import Callable

import mlx.core as mx
import mlx.nn as nn

from .config import LmConfig
from .embeddings import StackedEmbedding, dequantized_table
from .transformer import (RMSNorm, Transformer, kv_cache_dtype, make_ring_cache, ring_step,
                          rope_tables)

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

    def step(self, k: int, temporal_out: mx.array, prev_token: mx.array, kv: list[list[mx.array]],
             emb: mx.array) -> mx.array:
        """Logits [B, card] of codebook k. `kv` (one list per layer) holds the stacked q, k, v
        [B, 1, 3, H, Dh] of steps 0..k-1 of this frame and is extended in place; `emb`: this
        step's embedding table (plain, see InferenceTables)."""
        s = self.slices[k]
        B = temporal_out.shape[0]
        x = s.linear_in(temporal_out) + mx.take(emb, prev_token, axis=0)[:, None]
        first = s.transformer.layers[0].self_attn
        rope = None if first.rope_base is None else rope_tables(k, first.head_dim, first.rope_base)
        for layer, cache in zip(s.transformer.layers, kv):
            attn = layer.self_attn
            qkv = attn.qkv(layer.norm1(x), rope)[:, None]  # [B, 1, 3, H, Dh]
            cache.append(qkv)
            if k == 0:  # a single key: softmax weight 1, the output is the value itself
                out = qkv[:, :, 2]
            else:  # at most dep_q keys: elementwise products beat matmuls on so few
                q, keys, values = mx.split(mx.concatenate(cache, axis=1), 3, axis=2)
                q = q[:, -1:].astype(mx.float32) * attn.scale
                scores = mx.softmax((q * keys).sum(-1, keepdims=True), axis=1)  # [B, k+1, 1, H, 1]
                out = (scores * values).sum(axis=1).astype(x.dtype)
            x = x + attn.out_proj(out.reshape(B, 1, -1))
            x = x + layer.gating(layer.norm2(x))
        return s.linear_out(x).reshape(B, -1)

    def new_cache(self) -> list[list[mx.array]]:
        n_layers = len(self.slices[0].transformer.layers) if self.slices else 0
        return [[] for _ in range(n_layers)]


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
        """Temporal ring KV cache: `context` frames per layer, constant memory forever (its dtype:
        see kv_cache_dtype)."""
        c = self.config
        elements = 2 * c.num_layers * batch * c.num_heads * c.head_dim * c.context
        return make_ring_cache(c.num_layers, batch, c.num_heads, c.head_dim, c.context,
                               kv_cache_dtype(dtype, elements))

    def prepare(self, dtype: mx.Dtype = mx.float32) -> None:
        """Build the lookup tables the step functions use (see InferenceTables), or keep them if
        they are current. Runs on first use; call it before tracing a compiled step."""
        tables = getattr(self, "_tables", None)
        if tables is None or not tables.is_current(dtype):
            object.__setattr__(self, "_tables", InferenceTables(self, dtype))

    def embed_frame(self, tokens: mx.array, dtype: mx.Dtype) -> mx.array:
        """tokens [B, 1 + n_q] (text, then audio streams) -> summed embeddings [B, 1, dim].
        Token -1 (Kyutai's 'zero token': no input) contributes exact zeros."""
        self.prepare(dtype)
        return self._tables.frame.lookup(tokens).sum(axis=1, keepdims=True)

    def temporal(self, tokens: mx.array, kv: list[mx.array], offset: mx.array,
                 dtype: mx.Dtype = mx.float32, length: int | None = None,
                 ) -> tuple[mx.array, mx.array, list[mx.array]]:
        """One frame through the temporal transformer at position `offset` (see ring_step for
        `length`). Returns (normed output [B, 1, dim], text logits [B, text_out_vocab], new kv)."""
        x, kv = ring_step(self.transformer.layers, self.embed_frame(tokens, dtype), kv, offset, length)
        out = self.out_norm(x)
        return out, self.text_linear(out).reshape(out.shape[0], -1), kv

    def depformer_logits(self, temporal_out: mx.array, prev_tokens: mx.array) -> mx.array:
        """Teacher-forced depformer: prev_tokens [B, dep_q] = (text token, codebooks 0..dep_q-2).
        Returns logits [B, dep_q, card]."""
        self.prepare(temporal_out.dtype)
        kv, embs = self.depformer.new_cache(), self._tables.depformer
        return mx.stack([self.depformer.step(k, temporal_out, prev_tokens[:, k], kv, embs[k])
                         for k in range(self.config.dep_q)], axis=1)

    def depformer_sample(self, temporal_out: mx.array, text_token: mx.array, sampler: Sampler,
                         keys: list[mx.array]) -> mx.array:
        """Sample the dep_q codebooks of one frame: tokens [B, dep_q] (one random key per codebook)."""
        self.prepare(temporal_out.dtype)
        kv, embs = self.depformer.new_cache(), self._tables.depformer
        prev, tokens = text_token, []
        for k in range(self.config.dep_q):
            prev = sampler(self.depformer.step(k, temporal_out, prev, kv, embs[k]), keys[k])
            tokens.append(prev)
        return mx.stack(tokens, axis=1)


class InferenceTables:
    """Lookup tables derived from an Lm's weights for the step functions: the text and audio input
    embeddings stacked into one table (one lookup per frame; the modules keep views of it, so no
    memory is doubled), and the depformer's per-step embeddings as plain tables (a quantized lookup
    is a dozen graph nodes, at 8 per frame; Moshi 7B's are 8 x 2049 x 1024: 67 MB in float32)."""

    def __init__(self, model: Lm, dtype: mx.Dtype):
        self.dtype = dtype
        self.frame = StackedEmbedding([model.text_emb, *model.audio_embs], dtype)
        self.depformer = [dequantized_table(s.emb, dtype) for s in model.depformer.slices]
        self._sources = [s.emb for s in model.depformer.slices]
        self._ids = [id(s.emb.weight) for s in model.depformer.slices]
        mx.eval(self.depformer)

    def is_current(self, dtype: mx.Dtype) -> bool:
        return (dtype == self.dtype and self.frame.is_current()
                and [id(m.weight) for m in self._sources] == self._ids)
