"""The LM of Kyutai's family: temporal transformer over frames + depformer over the codebooks of one
frame (absent in STT), with optional extra heads (STT's end of turn), conditions (Hibiki, TTS) and
cross-attention (TTS).

Parameter names are those of Kyutai's MLX releases (see weights.py for the PyTorch mapping)."""

from __future__ import annotations

from typing import Callable

import mlx.core as mx
import mlx.nn as nn

from .conditioners import ConditionProvider
from .config import LmConfig
from .depformer import Depformer, depformer_tables
from .embeddings import StackedEmbedding, TextDemux, demux_tokens
from .kv_cache import LayerCaches, kv_cache_dtype, kv_group_size, make_ring_cache
from .linear import Linear, prepare_linears
from .transformer import RMSNorm, Transformer

Sampler = Callable[[mx.array, mx.array], mx.array]  # (logits [B, V], key) -> tokens [B]


class Lm(nn.Module):
    """Kyutai's RQ-transformer. Stateless: the caller owns the caches (see LmGen)."""

    def __init__(self, config: LmConfig):
        super().__init__()
        c = config
        self.config = c
        self.text_emb = nn.Embedding(c.text_card + 1, c.dim)
        if c.demux_second_stream:
            self.text_demux = TextDemux(c.dim, c.dim)
        self.audio_embs = [nn.Embedding(c.card + 1, c.dim) for _ in range(c.n_q)]
        rope = c.max_period if c.positional_embedding != "none" else None
        self.transformer = Transformer(
            c.num_layers, dim=c.dim, num_heads=c.num_heads, hidden=c.hidden_dim,
            activation=c.gating, eps=c.norm_eps, rope_base=rope, f32_norm=c.norm == "rms_norm_f32",
            kv_heads=c.num_kv_heads, interleave=c.positional_embedding != "rope_concat",
            cross_attention=c.cross_attention)
        self.out_norm = RMSNorm(c.dim, c.norm_eps, c.norm == "rms_norm_f32")
        self.text_linear = Linear(c.dim, c.text_out_vocab, bias=False)
        self.depformer = Depformer(c)
        self.extra_heads = [Linear(c.dim, c.extra_heads_dim, bias=False)
                            for _ in range(c.extra_heads_num_heads)]
        if c.conditioners:
            self.condition_provider = ConditionProvider(c)

    def make_cache(self, batch: int = 1, dtype: mx.Dtype = mx.float32, kv_bits: int | None = None
                   ) -> LayerCaches:
        """Temporal ring KV caches: `context` frames per layer, constant memory forever (their
        dtype: see kv_cache_dtype). Grouped-query models keep only their KV heads. `kv_bits` (8 or
        4): stored quantized, in groups of kv_group_size(head_dim), scales in the activations' dtype."""
        c = self.config
        if kv_bits is not None:
            return make_ring_cache(c.num_layers, batch, c.num_kv_heads, c.head_dim, c.context, dtype,
                                   kv_bits, kv_group_size(c.head_dim))
        elements = 2 * c.num_layers * batch * c.num_kv_heads * c.head_dim * c.context
        return make_ring_cache(c.num_layers, batch, c.num_kv_heads, c.head_dim, c.context,
                               kv_cache_dtype(dtype, elements))

    def prepare(self, dtype: mx.Dtype = mx.float32) -> None:
        """Build the lookup tables the step functions use (see InferenceTables), or keep them if
        they are current. Runs on first use; call it before tracing a compiled step."""
        tables = getattr(self, "_tables", None)
        if tables is None or not tables.is_current(dtype):
            prepare_linears(self)  # one node per full-precision linear in a one-row step (lm/linear.py)
            object.__setattr__(self, "_tables", InferenceTables(self, dtype))

    def embed(self, tokens: mx.array, dtype: mx.Dtype, cond_sum: mx.array | None = None) -> mx.array:
        """tokens [B, T, 1 + n_q] (text, then audio streams) -> summed embeddings [B, T, dim].
        Token -1 (Kyutai's 'zero token': no input) contributes exact zeros."""
        self.prepare(dtype)
        if "text_demux" not in self:
            x = self._tables.frame.lookup(tokens).sum(axis=-2)
        else:
            main, second = demux_tokens(tokens[..., :1], self.config.text_card + 1)
            columns = (0, 0) + tuple(range(1, self.config.num_codebooks))  # both text ids: text table
            rows = self._tables.frame.lookup(mx.concatenate([main, second, tokens[..., 1:]], axis=-1), columns)
            x = (self.text_demux.out1(rows[..., 0, :]) + self.text_demux.out2(rows[..., 1, :])
                 + rows[..., 2:, :].sum(axis=-2))
        return x if cond_sum is None else x + cond_sum.astype(x.dtype)

    def embed_frame(self, tokens: mx.array, dtype: mx.Dtype) -> mx.array:
        """tokens [B, 1 + n_q] of one frame -> [B, 1, dim]."""
        return self.embed(tokens[:, None], dtype)

    def temporal(self, tokens: mx.array, kv: LayerCaches, offset: mx.array,
                 dtype: mx.Dtype = mx.float32, length: int | None = None,
                 cond_sum: mx.array | None = None, cross: list | None = None,
                 ) -> tuple[mx.array, mx.array, LayerCaches]:
        """One frame through the temporal transformer at position `offset`, written to the caches
        `kv` (attending to their first `length` slots: see RingKVCache; `cond_sum` [B, 1, dim] and
        `cross` from Conditions / cross_kv). Returns (normed output [B, 1, dim], text logits
        [B, text_out_vocab], kv)."""
        x = self.embed(tokens[:, None], dtype, cond_sum)
        x = self.transformer(x, kv.seek(offset, length), cross)
        out = self.out_norm(x)
        return out, self.text_linear(out).reshape(out.shape[0], -1), kv

    def prefill(self, tokens: mx.array, kv: LayerCaches, offset: int, dtype: mx.Dtype = mx.float32,
                cond_sum: mx.array | None = None, cross: list | None = None,
                ) -> tuple[mx.array, LayerCaches]:
        """T frames tokens [B, T, 1 + n_q] through the temporal transformer at once, as T calls of
        `temporal` would (positions offset .. offset+T-1). Returns (normed outputs [B, T, dim], kv)."""
        return self.prefill_embeddings(self.embed(tokens, dtype, cond_sum), kv, offset, cross)

    def prefill_embeddings(self, x: mx.array, kv: LayerCaches, offset: int, cross: list | None = None,
                           ) -> tuple[mx.array, LayerCaches]:
        """`prefill` of inputs already embedded, x [B, T, dim] (summed input embeddings, conditions
        included): PersonaPlex's stored voice prompts are such inputs."""
        x = self.transformer(x, kv.seek(offset), cross)
        return self.out_norm(x), kv

    def cross_kv(self, source: mx.array | None) -> list | None:
        """Per temporal layer, the cross-attention keys and values of a conditions' `cross` source."""
        if source is None:
            return None
        if "cross_attention" in self.transformer:  # one module shared by every layer (MoshiVis)
            return [self.transformer.cross_attention.source_kv(source)] * len(self.transformer.layers)
        return [layer.cross_attention.source_kv(source) for layer in self.transformer.layers]

    def extra_probs(self, temporal_out: mx.array) -> mx.array:
        """Softmax of each extra head on the normed temporal output: [B, heads, extra_heads_dim]."""
        x = temporal_out.reshape(temporal_out.shape[0], -1).astype(mx.float32)
        return mx.stack([mx.softmax(head(x), axis=-1) for head in self.extra_heads], axis=1)

    def depformer_logits(self, temporal_out: mx.array, prev_tokens: mx.array) -> mx.array:
        """Teacher-forced depformer: prev_tokens [B, dep_q] = (text token, codebooks 0..dep_q-2).
        Returns logits [B, dep_q, card]."""
        self.prepare(temporal_out.dtype)
        kv, tables = self.depformer.new_cache(), self._tables.depformer
        return mx.stack([self.depformer.step(k, temporal_out, prev_tokens[:, k], kv, tables[k])
                         for k in range(self.config.dep_q)], axis=1)

    def depformer_sample(self, temporal_out: mx.array, text_token: mx.array, sampler: Sampler,
                         keys: list[mx.array], count: int | None = None,
                         combine: Callable[[mx.array], mx.array] | None = None) -> mx.array:
        """Sample the first `count` (default dep_q) codebooks of one frame: tokens [B, count] (one
        random key per codebook). With CFG, `temporal_out` has more rows than `text_token` and
        `combine` maps the rows' logits to the guided logits."""
        self.prepare(temporal_out.dtype)
        kv, tables = self.depformer.new_cache(), self._tables.depformer
        rows = temporal_out.shape[0]
        # Tokens as [B, 1] columns: the next step's lookup and the output take them as they are.
        column = getattr(sampler, "column", None) or (lambda logits, key: sampler(logits, key)[:, None])
        prev, tokens = text_token[:, None], []
        for k in range(self.config.dep_q if count is None else count):
            step_in = prev if prev.shape[0] == rows else mx.repeat(prev, rows // prev.shape[0], axis=0)
            logits = self.depformer.step(k, temporal_out, step_in, kv, tables[k])
            prev = column(logits if combine is None else combine(logits), keys[k])
            tokens.append(prev)
        return mx.concatenate(tokens, axis=1) if tokens else mx.zeros((text_token.shape[0], 0), mx.int32)


class InferenceTables:
    """Lookup tables derived from an Lm's weights for the step functions: the text and audio input
    embeddings stacked into one table (one lookup per frame; the modules keep views of it, so no
    memory is doubled), and the depformer's per-step embeddings as plain tables (see
    depformer.depformer_tables)."""

    def __init__(self, model: Lm, dtype: mx.Dtype):
        self.dtype = dtype
        self.frame = StackedEmbedding([model.text_emb, *model.audio_embs], dtype)
        self.depformer = depformer_tables(model.depformer, dtype)
        self._sources = model.depformer.table_sources()
        self._ids = [id(m.weight) for m in self._sources]

    def is_current(self, dtype: mx.Dtype) -> bool:
        return (dtype == self.dtype and self.frame.is_current()
                and [id(m.weight) for m in self._sources] == self._ids)
