"""The depformer: a small transformer over the codebooks of one frame, one step per codebook.

Step k reads the temporal transformer's output (through its own `linear_in`) plus the embedding of
the previous token (the text token for k = 0, codebook k-1 otherwise) and predicts codebook k.
Each step has its own weights ("weights per step", possibly shared along a schedule); the KV cache
spans one frame only. Kyutai's variants: low-rank input tables (`depformer_low_rank_embeddings`),
a muxed second text stream at step 0 (TTS), a norm before each output linear, grouped heads."""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

from .config import LmConfig
from .embeddings import TextDemux, demux_tokens, dequantized_table
from .linear import Linear
from .transformer import RMSNorm, Transformer


def make_norm(kind: str, dim: int) -> nn.Module:
    """Kyutai's create_norm_fn for the norms this project supports."""
    if kind == "layer_norm":
        return nn.LayerNorm(dim, eps=1e-5)
    return RMSNorm(dim, 1e-8 if kind == "rms_norm_f32" else 1e-5, kind == "rms_norm_f32")


class DepformerSlice(nn.Module):
    """Everything the depformer uses at codebook step k (its own weights, 'weights per step')."""

    def __init__(self, config: LmConfig, k: int):
        super().__init__()
        c = config
        width = c.depformer_low_rank_embeddings or c.depformer_dim
        self.emb = nn.Embedding(c.text_card + 1 if k == 0 else c.card + 1, width)
        if c.depformer_low_rank_embeddings:
            self.low_rank = Linear(width, c.depformer_dim, bias=False)
        if k == 0 and c.demux_second_stream:
            self.demux = TextDemux(width, c.depformer_dim)
        self.linear_in = Linear(c.dim, c.depformer_dim, bias=False)
        self.linear_out = Linear(c.depformer_dim, c.card, bias=False)
        rope = c.depformer_max_period if c.depformer_pos_emb != "none" else None
        self.transformer = Transformer(
            c.depformer_num_layers, dim=c.depformer_dim, num_heads=c.depformer_num_heads,
            hidden=c.depformer_hidden_dim, activation=c.depformer_activation, eps=c.norm_eps,
            rope_base=rope, f32_norm=c.norm == "rms_norm_f32", kv_heads=c.depformer_num_kv_heads,
            interleave=c.depformer_pos_emb != "rope_concat")
        if c.depformer_norm is not None:
            self.norm = make_norm(c.depformer_norm, c.depformer_dim)


@dataclass
class DepformerTable:
    """A step's input embedding as plain tables [vocab, depformer_dim]: `second` for a muxed
    text stream. Token -1 (no input) gives zeros where it can occur (the text token)."""

    table: mx.array
    second: mx.array | None = None
    zero_aware: bool = False

    def lookup(self, tokens: mx.array) -> mx.array:
        if self.second is None:
            rows = mx.take(self.table, mx.maximum(tokens, 0) if self.zero_aware else tokens, axis=0)
            return mx.where((tokens < 0)[..., None], mx.zeros((), rows.dtype), rows) if self.zero_aware else rows
        main, second = demux_tokens(tokens, self.table.shape[0])
        out = 0
        for table, index in ((self.table, main), (self.second, second)):
            rows = mx.take(table, mx.maximum(index, 0), axis=0)
            out = out + mx.where((index < 0)[..., None], mx.zeros((), rows.dtype), rows)
        return out


def depformer_tables(depformer: "Depformer", dtype: mx.Dtype) -> list[DepformerTable]:
    """Plain input tables for every step, the low-rank or muxed projections applied once (a
    quantized lookup is a dozen graph nodes and a projection a matmul, at dep_q steps per frame;
    Moshi 7B's tables are 8 x 2049 x 1024: 67 MB in float32)."""
    out = []
    for k, s in enumerate(depformer.slices):
        raw = dequantized_table(s.emb, dtype)
        if "demux" in s:
            table = DepformerTable(s.demux.out1(raw).astype(dtype), s.demux.out2(raw).astype(dtype), True)
        elif "low_rank" in s:
            table = DepformerTable(s.low_rank(raw).astype(dtype), zero_aware=k == 0)
        else:
            table = DepformerTable(raw, zero_aware=k == 0)
        out.append(table)
    mx.eval([a for t in out for a in (t.table, t.second) if a is not None])
    return out


class Depformer(nn.Module):
    def __init__(self, config: LmConfig):
        super().__init__()
        self.slices = [DepformerSlice(config, k) for k in range(config.dep_q)]

    def table_sources(self) -> list[nn.Module]:
        """The modules whose weights the plain tables are made of."""
        out = []
        for s in self.slices:
            out.append(s.emb)
            out += [s.low_rank] if "low_rank" in s else []
            out += [s.demux.out1, s.demux.out2] if "demux" in s else []
        return out

    def step(self, k: int, temporal_out: mx.array, prev_token: mx.array, kv: list[list[mx.array]],
             table: DepformerTable) -> mx.array:
        """Logits [B, card] of codebook k from prev_token [B] (or [B, 1]). `kv` (one list per
        layer) holds the keys and values [B, kv_heads, 1, Dh] of steps 0..k-1 of this frame and is
        extended in place; `table`: this step's input table (depformer_tables)."""
        s = self.slices[k]
        B = temporal_out.shape[0]
        rows = table.lookup(prev_token)  # [B, dim], or [B, 1, dim] for tokens [B, 1]
        x = s.linear_in(temporal_out) + (rows[:, None] if prev_token.ndim == 1 else rows)
        rope = s.transformer.rope_for(k, 1)  # step k is position k of the frame's short sequence
        for layer, cache in zip(s.transformer.layers, kv):
            attn = layer.self_attn
            q, key, value = attn.heads(layer.norm1(x), rope)  # [B, heads, 1, Dh]
            cache.append((key, value))
            if k == 0 and not attn.grouped:  # a single key: softmax weight 1, the value itself
                out = value
            else:  # one node on a Mac GPU; grouped heads share their keys as in the temporal one
                keys = mx.concatenate([c[0] for c in cache], axis=2) if k else key
                values = mx.concatenate([c[1] for c in cache], axis=2) if k else value
                out = mx.fast.scaled_dot_product_attention(q, keys, values, scale=attn.scale)
            x = x + attn.out_proj(out.reshape(B, 1, -1))
            x = x + layer.gating(layer.norm2(x))
        if "norm" in s:
            x = s.norm(x)
        return s.linear_out(x).reshape(B, -1)

    def new_cache(self) -> list[list[mx.array]]:
        n_layers = len(self.slices[0].transformer.layers) if self.slices else 0
        return [[] for _ in range(n_layers)]
