"""Split residual vector quantizer: 1 semantic codebook + (n_q - 1) acoustic ones, each group with its
own 1x1 input/output projections. Both groups quantize the same latent, independently."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ..lm.linear import Linear, rows_layout, times_transposed
from .config import MimiConfig


class Codebook(nn.Module):
    def __init__(self, size: int, dim: int):
        super().__init__()
        self.embedding = mx.zeros((size, dim))  # = embedding_sum / clamp(cluster_usage, 1e-5)

    def squared_norms(self) -> mx.array:
        """|e|^2 per centroid, computed once per embedding array (not a parameter)."""
        cached = self.__dict__.get("_norms")
        if cached is None or cached[0] is not self.embedding:
            cached = (self.embedding, (self.embedding * self.embedding).sum(-1))
            self.__dict__["_norms"] = cached
        return cached[1]

    def _kept_rows(self) -> mx.array | None:
        kept = self.__dict__.get("_rows")
        return kept[1] if kept is not None and kept[0] is self.embedding else None

    def prepare_rows(self) -> list[mx.array]:
        """Keep the embedding as [1, dim, size] too (for one batch row: one graph node for the
        product, see lm/linear.py); the embedding becomes a transposed view of it. Idempotent."""
        if self._kept_rows() is not None:
            return []
        self.embedding, rows = rows_layout(self.embedding)
        self.__dict__["_rows"] = (self.embedding, rows)
        return [self.embedding, rows]

    def encode(self, x: mx.array) -> mx.array:
        """Nearest centroid (euclidean) of each row of x [..., dim] -> int32 [...]."""
        # |x|^2 is left out: the same for every centroid
        dist = self.squared_norms() - 2 * times_transposed(x, self.embedding, self._kept_rows())
        return mx.argmin(dist, axis=-1).astype(mx.int32)

    def decode(self, codes: mx.array) -> mx.array:
        return self.embedding[codes]


class ResidualVQ(nn.Module):
    def __init__(self, cfg: MimiConfig, n_q: int):
        super().__init__()
        self.input_proj = Linear(cfg.dimension, cfg.codebook_dim, bias=False)
        self.output_proj = Linear(cfg.codebook_dim, cfg.dimension, bias=False)
        self.layers = [Codebook(cfg.codebook_size, cfg.codebook_dim) for _ in range(n_q)]

    def encode(self, x: mx.array, n_q: int) -> mx.array:
        """[B, T, dimension] -> int32 [B, n_q, T]."""
        residual = self.input_proj(x)
        codes = []
        for layer in self.layers[:n_q]:
            c = layer.encode(residual)
            residual = residual - layer.decode(c)
            codes.append(c)
        return mx.stack(codes, axis=1)

    def decode(self, codes: mx.array) -> mx.array:
        """int [B, K, T] -> [B, T, dimension]."""
        out = sum(self.layers[i].decode(codes[:, i]) for i in range(codes.shape[1]))
        return self.output_proj(out)


class SplitResidualVQ(nn.Module):
    def __init__(self, cfg: MimiConfig):
        super().__init__()
        self.n_q_semantic = cfg.n_q_semantic
        self.rvq_first = ResidualVQ(cfg, cfg.n_q_semantic)
        self.rvq_rest = ResidualVQ(cfg, cfg.n_q - cfg.n_q_semantic)

    def encode(self, x: mx.array, n_q: int) -> mx.array:
        codes = self.rvq_first.encode(x, self.n_q_semantic)
        if n_q > self.n_q_semantic:
            codes = mx.concatenate([codes, self.rvq_rest.encode(x, n_q - self.n_q_semantic)], axis=1)
        return codes

    def decode(self, codes: mx.array) -> mx.array:
        out = self.rvq_first.decode(codes[:, : self.n_q_semantic])
        if codes.shape[1] > self.n_q_semantic:
            out = out + self.rvq_rest.decode(codes[:, self.n_q_semantic:])
        return out
