"""MoshiVis's adapter modules: the image projection (SigLIP -> LM width), the per-layer gate, and
kyuteye's variance RMSNorm (used by the projection and by MoshiVis's depformer)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from .config import SiglipConfig
from .siglip import SiglipVision


class VarianceRMSNorm(nn.Module):
    """kyuteye's `rms_norm`: x * weight / sqrt(eps + unbiased variance of x) (x itself is not
    centred). `f32`: computed in float32 (`rms_norm_f32`)."""

    def __init__(self, dim: int, eps: float, f32: bool):
        super().__init__()
        self.weight = mx.ones((dim,))
        self.eps = eps
        self.f32 = f32

    def __call__(self, x: mx.array) -> mx.array:
        y = x.astype(mx.float32) if self.f32 else x
        var = mx.var(y, axis=-1, keepdims=True, ddof=1)
        y = y * mx.rsqrt(var + self.eps) * self.weight.astype(y.dtype)
        return y.astype(x.dtype)


class XaGate(nn.Module):
    """Input-conditioned gate of one layer on the cross-attention output y:
    y * sigmoid(linear_out(relu(linear_in(y))) - 4) (Kyutai's shift keeps it near 0 at init)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.linear_in = nn.Linear(dim, hidden, bias=False)
        self.linear_out = nn.Linear(hidden, dim, bias=False)

    def __call__(self, y: mx.array) -> mx.array:
        return y * mx.sigmoid(self.linear_out(nn.relu(self.linear_in(y))) - 4)


class ImageProjection(nn.Module):
    """Image -> cross-attention source: SigLIP's last hidden state, projected to the LM width
    (a Linear with bias), then the variance RMSNorm (eps 1e-5, in the model's dtype)."""

    def __init__(self, vision: SiglipConfig, dim: int, eps: float = 1e-5):
        super().__init__()
        self.encoder = SiglipVision(vision)
        self.proj_xa = nn.Linear(vision.hidden_size, dim, bias=True)
        self.norm_xa = VarianceRMSNorm(dim, eps, f32=False)

    def project(self, encoded: mx.array) -> mx.array:
        return self.norm_xa(self.proj_xa(encoded))

    def __call__(self, pixels: mx.array) -> mx.array:
        """pixels [B, S, S, 3] in [-1, 1] -> [B, patches, dim]."""
        return self.project(self.encoder(pixels))
