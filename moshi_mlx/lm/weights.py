"""Checkpoint names: Kyutai's PyTorch release names -> ours (= Kyutai's MLX release names), in one
place, used by both the runtime loader and the quantization tool; shape and key checks."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

import mlx.core as mx

from ..errors import CheckpointError, ConfigError
from .conditioners import conditioner_specs
from .config import LmConfig

# Kyutai's MLX files carry no config.json: their quantization is implied by the file name.
KNOWN_FILES: dict[str, dict | None] = {
    "model.q4.safetensors": {"group_size": 32, "bits": 4, "mode": "affine"},
    "model.q8.safetensors": {"group_size": 64, "bits": 8, "mode": "affine"},
    "model.safetensors": None,  # bf16: Kyutai's PyTorch or MLX names (told apart by the keys)
}

_DEP_LAYER = re.compile(r"depformer\.layers\.(\d+)\.(.+)")
_PT_ONLY = re.compile(r"^(emb\.|depformer_in\.|linears\.|depformer_text_emb\.|depformer_emb\.|"
                      r"depformer\.layers\.|depformer_norms\.|text_emb\.out[12]\.)|\.alpha$|"
                      r"in_proj_weight$|\.in_projs\.|\.out_projs\.|cross_attention\.in_proj\.")
# PyTorch's ScaledEmbedding parts -> our module names (the table itself is `.weight`)
_EMB_PARTS = {"weight": "emb.weight", "low_rank.weight": "low_rank.weight",
              "out1.weight": "demux.out1.weight", "out2.weight": "demux.out2.weight"}


def is_pytorch_name(name: str) -> bool:
    """True for names only Kyutai's PyTorch checkpoints use (release or state_dict form)."""
    return bool(_PT_ONLY.search(name))


def _slices_using(index: int, table: tuple[int, ...]) -> list[int]:
    return [k for k, i in enumerate(table) if i == index]


def translate_pytorch_tensor(name: str, value: mx.array, config: LmConfig) -> list[tuple[str, mx.array]]:
    """One tensor of a Kyutai PyTorch checkpoint -> [(our name, array)] (one, several or a split).

    Works one tensor at a time so a converter can stream a 15 GB file. Names that are not
    PyTorch-only pass through unchanged (a later key check reports any that are unknown)."""
    if name.endswith(".alpha"):  # RMSNorm [1, 1, D] -> [D]
        value = value.reshape(-1)
        name = name[: -len(".alpha")] + ".weight"
    if name.startswith("emb."):
        return [("audio_embs." + name[len("emb."):], value)]
    if m := re.fullmatch(r"text_emb\.(out[12])\.(weight|scales|biases)", name):  # also Kyutai MLX's
        return [(f"text_demux.{m.group(1)}.{m.group(2)}", value)]
    if m := re.fullmatch(r"(transformer\.layers\.\d+\.cross_attention)\.(?:in_proj_weight|in_projs\.0\.weight|"
                         r"in_proj\.(weight|scales|biases))", name):  # q rows, then k and v rows
        q, kv = mx.split(value, [value.shape[0] // 3], axis=0)
        part = m.group(2) or "weight"
        return [(f"{m.group(1)}.q_proj.{part}", q), (f"{m.group(1)}.kv_proj.{part}", kv)]
    if name.startswith("transformer."):
        name = name.replace(".in_proj_weight", ".in_proj.weight")
        name = name.replace(".in_projs.0.", ".in_proj.").replace(".out_projs.0.", ".out_proj.")
        return [(name, value)]
    if m := re.fullmatch(r"depformer_in\.(\d+)\.weight", name):
        ks = _slices_using(int(m.group(1)), config.depformer_in_index)
        return [(f"depformer.slices.{k}.linear_in.weight", value) for k in ks]
    if m := re.fullmatch(r"linears\.(\d+)\.weight", name):
        return [(f"depformer.slices.{m.group(1)}.linear_out.weight", value)]
    if m := re.fullmatch(r"depformer_norms\.(\d+)\.(weight|bias)", name):
        return [(f"depformer.slices.{m.group(1)}.norm.{m.group(2)}", value)]
    if m := re.fullmatch(r"depformer_text_emb\.(.+)", name):
        if m.group(1) in _EMB_PARTS:
            return [(f"depformer.slices.0.{_EMB_PARTS[m.group(1)]}", value)]
    if m := re.fullmatch(r"depformer_emb\.(\d+)\.(.+)", name):
        if m.group(2) in _EMB_PARTS:
            return [(f"depformer.slices.{int(m.group(1)) + 1}.{_EMB_PARTS[m.group(2)]}", value)]
    if m := _DEP_LAYER.fullmatch(name):
        return _translate_depformer_layer(int(m.group(1)), m.group(2), value, config)
    return [(name, value)]


def _translate_depformer_layer(layer: int, rest: str, value: mx.array, config: LmConfig):
    schedule = config.depformer_schedule
    n_w = config.depformer_num_weights

    def to_slices(suffix: str, arrays: list[mx.array] | mx.array):
        out = []
        for k, w in enumerate(schedule):
            arr = arrays[w] if isinstance(arrays, list) else arrays
            out.append((f"depformer.slices.{k}.transformer.layers.{layer}.{suffix}", arr))
        return out

    if rest in ("norm1.weight", "norm2.weight"):  # shared norms: copied into every slice
        return to_slices(rest, value)
    if rest in ("self_attn.in_proj_weight", "self_attn.out_proj.weight"):  # weight sets stacked on dim 0
        if value.shape[0] % n_w:
            raise CheckpointError(f"depformer.layers.{layer}.{rest}: first dimension {value.shape[0]} "
                                  f"is not a multiple of {n_w} weight sets")
        suffix = "self_attn.in_proj.weight" if "in_proj" in rest else "self_attn.out_proj.weight"
        return to_slices(suffix, mx.split(value, n_w, axis=0))
    if m := re.fullmatch(r"self_attn\.(in|out)_projs\.(\d+)\.weight", rest):
        ks = _slices_using(int(m.group(2)), schedule)
        suffix = f"self_attn.{m.group(1)}_proj.weight"
        return [(f"depformer.slices.{k}.transformer.layers.{layer}.{suffix}", value) for k in ks]
    if m := re.fullmatch(r"gating\.(\d+)\.(linear_in|linear_out)\.weight", rest):
        ks = _slices_using(int(m.group(1)), schedule)
        return [(f"depformer.slices.{k}.transformer.layers.{layer}.gating.{m.group(2)}.weight", value)
                for k in ks]
    if m := re.fullmatch(r"gating\.(linear_in|linear_out)\.weight", rest):  # a single weight set
        return to_slices(f"gating.{m.group(1)}.weight", value)
    return [(f"depformer.layers.{layer}.{rest}", value)]


# Kyutai's MLX names that differ from ours (its embeddings own their projections; its
# cross-attention stacks q, k, v): quantized tensors come with .scales / .biases beside .weight.
_MLX_EMB_PART = re.compile(r"(depformer\.slices\.\d+)\.emb\.(low_rank|out1|out2)\.(weight|scales|biases)")


def translate_kyutai_mlx_tensor(name: str, value: mx.array) -> list[tuple[str, mx.array]] | None:
    """One tensor under a Kyutai MLX name that is not ours -> [(our name, array)]; None otherwise."""
    if m := _MLX_EMB_PART.fullmatch(name):
        part = "low_rank" if m.group(2) == "low_rank" else f"demux.{m.group(2)}"
        return [(f"{m.group(1)}.{part}.{m.group(3)}", value)]
    return None


def sanitize(weights: Mapping[str, mx.array], config: LmConfig) -> dict[str, mx.array]:
    """Whole-dict translation to our names (from Kyutai's PyTorch or MLX names); idempotent."""
    out: dict[str, mx.array] = {}
    for name, value in weights.items():
        if is_pytorch_name(name):
            pairs = translate_pytorch_tensor(name, value, config)
        else:
            pairs = translate_kyutai_mlx_tensor(name, value) or [(name, value)]
        for new_name, new_value in pairs:
            out[new_name] = new_value
    return out


def expected_shapes(config: LmConfig) -> dict[str, tuple[int, ...]]:
    """Unquantized parameter shapes by our names."""
    c = config
    s: dict[str, tuple[int, ...]] = {
        "text_emb.weight": (c.text_card + 1, c.dim),
        "text_linear.weight": (c.text_out_vocab, c.dim),
        "out_norm.weight": (c.dim,),
    }
    if c.demux_second_stream:
        s["text_demux.out1.weight"] = s["text_demux.out2.weight"] = (c.dim, c.dim)
    for i in range(c.n_q):
        s[f"audio_embs.{i}.weight"] = (c.card + 1, c.dim)
    _layer_shapes(s, "transformer.layers", c.num_layers, c.dim, c.hidden_dim, c.num_kv_heads * c.head_dim,
                  c.cross_attention)
    width = c.depformer_low_rank_embeddings or c.depformer_dim
    for k in range(c.dep_q):
        p = f"depformer.slices.{k}"
        in_vocab = c.text_card + 1 if k == 0 else c.card + 1
        s[f"{p}.emb.weight"] = (in_vocab, width)
        if c.depformer_low_rank_embeddings:
            s[f"{p}.low_rank.weight"] = (c.depformer_dim, width)
        if k == 0 and c.demux_second_stream:
            s[f"{p}.demux.out1.weight"] = s[f"{p}.demux.out2.weight"] = (c.depformer_dim, width)
        s[f"{p}.linear_in.weight"] = (c.depformer_dim, c.dim)
        s[f"{p}.linear_out.weight"] = (c.card, c.depformer_dim)
        if c.depformer_norm is not None:
            s[f"{p}.norm.weight"] = (c.depformer_dim,)
            if c.depformer_norm == "layer_norm":
                s[f"{p}.norm.bias"] = (c.depformer_dim,)
        _layer_shapes(s, f"{p}.transformer.layers", c.depformer_num_layers, c.depformer_dim,
                      c.depformer_hidden_dim, c.depformer_num_kv_heads * c.depformer_head_dim, False)
    for i in range(c.extra_heads_num_heads):
        s[f"extra_heads.{i}.weight"] = (c.extra_heads_dim, c.dim)
    for spec in conditioner_specs(c):
        p = f"condition_provider.conditioners.{spec.name}"
        if spec.kind == "lut":
            s[f"{p}.embed.weight"] = (spec.n_bins + 1, spec.dim)
        s[f"{p}.output_proj.weight"] = (c.dim, spec.dim)
        s[f"{p}.learnt_padding"] = (1, 1, c.dim)
    return s


def _layer_shapes(s: dict, prefix: str, n_layers: int, dim: int, hidden: int, kv_dim: int,
                  cross: bool) -> None:
    for layer in range(n_layers):
        p = f"{prefix}.{layer}"
        s[f"{p}.self_attn.in_proj.weight"] = (dim + 2 * kv_dim, dim)
        s[f"{p}.self_attn.out_proj.weight"] = (dim, dim)
        s[f"{p}.norm1.weight"] = (dim,)
        s[f"{p}.norm2.weight"] = (dim,)
        s[f"{p}.gating.linear_in.weight"] = (2 * hidden, dim)
        s[f"{p}.gating.linear_out.weight"] = (dim, hidden)
        if cross:
            s[f"{p}.cross_attention.q_proj.weight"] = (dim, dim)
            s[f"{p}.cross_attention.kv_proj.weight"] = (2 * dim, dim)
            s[f"{p}.cross_attention.out_proj.weight"] = (dim, dim)
            s[f"{p}.norm_cross.weight"] = s[f"{p}.norm_cross.bias"] = (dim,)


# Kept in float whatever the quantization: the conditioners are tiny and Kyutai keeps them float32;
# MoshiVis's image tower and projection run once per image (see docs/moshivis.md for the error).
UNQUANTIZED_PREFIXES = ("condition_provider.", "image.")


def module_quantization(quantization: Mapping | None, module_path: str) -> dict | None:
    """mlx-lm convention: {"bits", "group_size", "mode"?} defaults plus per-module overrides keyed
    by module path (a dict, or False for 'left unquantized'). None: not quantized."""
    if not quantization or module_path.startswith(UNQUANTIZED_PREFIXES):
        return None
    override = quantization.get(module_path)
    if override is False:
        return None
    params = {"bits": quantization.get("bits"), "group_size": quantization.get("group_size"),
              "mode": quantization.get("mode", "affine")}
    if isinstance(override, Mapping):
        params.update({k: v for k, v in override.items() if k in params})
    if params["bits"] not in (2, 3, 4, 5, 6, 8) or params["group_size"] not in (32, 64, 128):
        raise ConfigError(f"quantization of {module_path!r}: unsupported bits/group_size "
                          f"{params['bits']}/{params['group_size']}")
    if params["mode"] != "affine":
        raise ConfigError(f"quantization of {module_path!r}: mode {params['mode']!r} is not supported "
                          "(affine only)")
    return params


def stored_shapes(config: LmConfig, quantization: Mapping | None) -> dict[str, tuple[int, ...]]:
    """Shapes as stored in a file: quantized Linear/Embedding weights become uint32 `weight` plus
    `scales` and `biases` (nn.QuantizedLinear / nn.QuantizedEmbedding layout)."""
    out = {}
    for name, shape in expected_shapes(config).items():
        module = name.rsplit(".", 1)[0]
        q = module_quantization(quantization, module) if len(shape) == 2 else None
        if q is None:
            out[name] = shape
            continue
        rows, cols = shape
        out[name] = (rows, cols * q["bits"] // 32)
        out[f"{module}.scales"] = (rows, cols // q["group_size"])
        out[f"{module}.biases"] = (rows, cols // q["group_size"])
    return out


def check_weights(weights: Mapping[str, object], config: LmConfig, quantization: Mapping | None,
                  source: str, pytorch_file: bool = False) -> None:
    """Raise CheckpointError naming the missing, unexpected and wrongly shaped keys of `source`.
    `weights` maps our names to arrays (or anything with a `.shape`); missing keys are named as a
    file in Kyutai's PyTorch format would hold them when `pytorch_file`."""
    from .release_names import file_names

    expected = stored_shapes(config, quantization)
    missing = file_names(set(expected) - set(weights), config, pytorch_file)
    unexpected = sorted(set(weights) - set(expected))
    wrong = [f"{k}: {tuple(weights[k].shape)} instead of {expected[k]}"
             for k in sorted(set(expected) & set(weights)) if tuple(weights[k].shape) != expected[k]]
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                         ("wrong shapes", wrong)):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        q = "unquantized" if not quantization else \
            f"quantized {quantization.get('bits')} bits / group {quantization.get('group_size')}"
        raise CheckpointError(f"{source}: does not match the LM config "
                              f"(dim {config.dim}, {config.num_layers} layers, {q}): " + "; ".join(problems))
    from ..finite import check_finite

    check_finite(weights, source, "LM weights")


def pytorch_release_names(names: Iterable[str]) -> bool:
    """True when a set of keys is in Kyutai's PyTorch format (vs MLX names)."""
    return any(is_pytorch_name(n) for n in names)
