"""MoshiVis = Kyutai's Moshi LM + an image adapter. `adapt_lm` turns a freshly built `Lm` into one:

- one cross-attention (q, kv, out projections, no bias) shared by every temporal layer, at
  `transformer.cross_attention`; each layer gets `norm_cross` (Helium's RMSNorm, like norm1/norm2)
  and its own gate `cross_gate` (see modules.XaGate); layers call the shared module through
  `Layer.cross` (lm/transformer.py), only when an image source is given;
- the depformer's norms become kyuteye's variance RMSNorm (MoshiVis passes its `norm` to the
  depformer, not to Helium);
- `image`: the SigLIP tower + projection whose output is the cross-attention source.
The shared module is a single set of weights in the parameter tree (stored once, quantized once)."""

from __future__ import annotations

import mlx.core as mx

from ..lm.model import Lm
from ..lm.transformer import RMSNorm
from .config import VisConfig
from .modules import ImageProjection, SharedCrossAttention, VarianceRMSNorm, XaGate


def adapt_lm(lm: Lm, vis: VisConfig) -> Lm:
    c = lm.config
    shared = SharedCrossAttention(c.dim, c.num_heads)
    lm.transformer.cross_attention = shared
    for layer in lm.transformer.layers:
        layer.norm_cross = RMSNorm(c.dim, c.norm_eps, c.norm == "rms_norm_f32")
        layer.cross_gate = XaGate(c.dim, int(vis.gate_hidden_factor * c.dim))
        object.__setattr__(layer, "shared_cross", shared)  # a reference, not a child: no copy
    for s in lm.depformer.slices:
        for layer in s.transformer.layers:
            layer.norm1 = VarianceRMSNorm(c.depformer_dim, 1e-8, f32=True)
            layer.norm2 = VarianceRMSNorm(c.depformer_dim, 1e-8, f32=True)
    lm.image = ImageProjection(vis.vision, c.dim, vis.norm_xa_eps)
    object.__setattr__(lm, "vis_config", vis)
    return lm


def build_vis_lm(lm_config, vis: VisConfig) -> Lm:
    return adapt_lm(Lm(lm_config), vis)


def is_vis(lm: Lm) -> bool:
    return "image" in lm


def image_source(lm: Lm, pixels: mx.array) -> mx.array:
    """pixels [1, S, S, 3] in [-1, 1] -> the cross-attention source [1, patches, dim] (computed
    once per image; LmGen.set_cross turns it into k, v once). The tower runs in its own dtype
    (its patch convolution is never quantized)."""
    return lm.image(pixels.astype(lm.image.encoder.embeddings.patch_embedding.weight.dtype))
