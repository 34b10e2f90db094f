"""MoshiVis checkpoint names -> ours, in one place (loader and converter): kyuteye's PyTorch release
names (`llm.*`, `audio_emb.*`, `audio_linears.*`, `image_prefix.*`, the shared cross-attention
under layer 0) are mapped to Moshi's PyTorch names, then through the Moshi translation
(lm/weights.py). Idempotent: our names pass through unchanged."""

from __future__ import annotations

import re
from typing import Mapping

import mlx.core as mx

from ..lm.config import LmConfig
from ..lm.weights import translate_pytorch_tensor

_XA = re.compile(r"llm\.transformer\.layers\.(\d+)\.cross_attention\.(.+)")


def is_release(weights: Mapping[str, object]) -> bool:
    """True for kyuteye's PyTorch names (how a release folder without config.json is recognised)."""
    return any(k.startswith("image_prefix.") for k in weights) and any(k.startswith("llm.") for k in weights)


def _rename(name: str, value: mx.array) -> list[tuple[str, mx.array]]:
    if name.startswith("image_prefix."):
        rest = name[len("image_prefix."):]
        if rest == "norm_xa.alpha":
            return [("image.norm_xa.weight", value.reshape(-1))]
        if rest.startswith("enc.model."):
            rest = rest[len("enc.model."):]
            if rest == "embeddings.patch_embedding.weight":  # PyTorch OIHW -> MLX OHWI
                value = value.transpose(0, 2, 3, 1)
            return [("image.encoder." + rest, value)]
        return [("image." + rest, value)]
    if m := _XA.fullmatch(name):
        layer, rest = int(m.group(1)), m.group(2)
        if rest == "mha.in_proj_weight":
            if layer:
                return []  # copies of the shared module (the loader reads layer 0's)
            q, kv = mx.split(value, [value.shape[0] // 3], axis=0)
            return [("transformer.cross_attention.q_proj.weight", q),
                    ("transformer.cross_attention.kv_proj.weight", kv)]
        if rest == "mha.out_proj.weight":
            return [] if layer else [("transformer.cross_attention.out_proj.weight", value)]
        gate = {"gate.alpha.0.weight": "linear_in", "gate.alpha.2.weight": "linear_out"}.get(rest)
        if gate:
            return [(f"transformer.layers.{layer}.cross_gate.{gate}.weight", value)]
    if name.startswith("llm."):
        return [(name[len("llm."):], value)]
    if name.startswith("audio_emb."):
        return [("emb." + name[len("audio_emb."):], value)]
    if name.startswith("audio_linears."):
        return [("linears." + name[len("audio_linears."):], value)]
    return [(name, value)]


def translate_tensor(name: str, value: mx.array, config: LmConfig) -> list[tuple[str, mx.array]]:
    """One tensor of a MoshiVis checkpoint -> [(our name, array)] (a converter streams with it)."""
    out = []
    for new_name, new_value in _rename(name, value):
        out += [(new_name, new_value)] if new_name.startswith("image.") else \
            translate_pytorch_tensor(new_name, new_value, config)
    return out


def sanitize(weights: Mapping[str, mx.array], config: LmConfig) -> dict[str, mx.array]:
    """All of a MoshiVis checkpoint's tensors under our names."""
    return {n: v for name, value in weights.items() for n, v in translate_tensor(name, value, config)}
