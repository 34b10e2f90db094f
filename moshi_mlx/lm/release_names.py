"""Our parameter names back to the names a checkpoint file uses, for error messages: a missing key
is reported as the file would hold it (`transformer.layers.1.norm1.alpha` in Kyutai's PyTorch
release, not our `...norm1.weight`). The forward translation is weights.translate_pytorch_tensor."""

from __future__ import annotations

import re

from .config import LmConfig

_SLICE = re.compile(r"depformer\.slices\.(\d+)\.(.+)")
_SLICE_LAYER = re.compile(r"transformer\.layers\.(\d+)\.(.+)")
_EMB = {"emb.weight": "weight", "low_rank.weight": "low_rank.weight",
        "demux.out1.weight": "out1.weight", "demux.out2.weight": "out2.weight"}


def pytorch_name(name: str, config: LmConfig) -> str:
    """The Kyutai PyTorch release name holding our parameter `name`."""
    if name.startswith("audio_embs."):
        return "emb." + name[len("audio_embs."):]
    if name.startswith("text_demux."):
        return "text_emb." + name[len("text_demux."):]
    if m := _SLICE.fullmatch(name):
        return _slice_name(int(m.group(1)), m.group(2), config)
    name = re.sub(r"\.cross_attention\.(q_proj|kv_proj)\.weight$", ".cross_attention.in_proj_weight", name)
    name = name.replace(".self_attn.in_proj.weight", ".self_attn.in_proj_weight")
    return re.sub(r"(norm1|norm2|out_norm)\.weight$", r"\1.alpha", name)


def _slice_name(k: int, rest: str, config: LmConfig) -> str:
    if rest in _EMB:
        table = "depformer_text_emb" if k == 0 else f"depformer_emb.{k - 1}"
        return f"{table}.{_EMB[rest]}"
    if rest == "linear_in.weight":
        return f"depformer_in.{config.depformer_in_index[k]}.weight"
    if rest == "linear_out.weight":
        return f"linears.{k}.weight"
    if rest.startswith("norm."):
        return f"depformer_norms.{k}.{rest[len('norm.'):]}".replace(".weight", ".alpha") \
            if config.depformer_norm != "layer_norm" else f"depformer_norms.{k}.{rest[len('norm.'):]}"
    if m := _SLICE_LAYER.fullmatch(rest):
        layer, part = m.group(1), m.group(2)
        weights = config.depformer_schedule[k]
        part = {"self_attn.in_proj.weight": "self_attn.in_proj_weight",
                "norm1.weight": "norm1.alpha", "norm2.weight": "norm2.alpha"}.get(part, part)
        if part.startswith("gating.") and config.depformer_num_weights > 1:
            part = f"gating.{weights}." + part[len("gating."):]
        return f"depformer.layers.{layer}.{part}"
    return f"depformer.slices.{k}.{rest}"


def file_names(names, config: LmConfig, pytorch: bool) -> list[str]:
    """Our names as the file names them (deduplicated: several of ours can come from one tensor)."""
    if not pytorch:
        return sorted(set(names))
    return sorted({pytorch_name(n, config) for n in names})
