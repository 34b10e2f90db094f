"""MoshiVis's adapter modules: the image projection (SigLIP -> LM width), the per-layer gate, and
kyuteye's variance RMSNorm (used by the projection and by MoshiVis's depformer)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ..lm.transformer import CrossAttention
from .config import SiglipConfig
from .siglip import SiglipVision


class SharedCrossAttention(CrossAttention):
    """MoshiVis's cross-attention (one for all layers). The image's keys come from `source_kv` already
    scaled by head_dim^-0.5 and transposed ([B, H, Dh, tokens]), once per image, so that each frame
    in each layer is q-projection, two matmuls around a softmax, and the out-projection (MLX's
    CPU SDPA would scale q and transpose the keys again in every layer of every frame)."""

    def source_kv(self, src: mx.array) -> tuple[mx.array, mx.array]:
        keys, values = super().source_kv(src)
        keys_t = mx.contiguous((keys * self.scale).swapaxes(-1, -2))
        return keys_t, values

    def __call__(self, x: mx.array, keys_t: mx.array, values: mx.array) -> mx.array:
        B, T, _ = x.shape
        q = self.q_proj(x).reshape(B, T, self.num_heads, self.head_dim)
        q = q.reshape(B, self.num_heads, 1, self.head_dim) if T == 1 else q.transpose(0, 2, 1, 3)
        if q.dtype != keys_t.dtype:
            q = q.astype(keys_t.dtype)
        out = mx.softmax(q @ keys_t, axis=-1, precise=True) @ values
        out = out.reshape(B, 1, -1) if T == 1 else out.transpose(0, 2, 1, 3).reshape(B, T, -1)
        return self.out_proj(out.astype(x.dtype))


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
