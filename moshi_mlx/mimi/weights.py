"""The one place where release checkpoint names and layouts are translated to ours, and back.

Release (PyTorch) -> ours:
  *.conv.conv.{weight,bias}, *.convtr.convtr.*, downsample.conv.conv.conv.*, upsample.convtr.convtr.convtr.*
      -> *.{weight,bias}; Conv1d [out, in, k] -> [k, in, out]; ConvTranspose1d [in, out, k] ->
      [in, k, out]; the depthwise upsample [C, 1, k] -> [k, C]
  *_transformer.transformer.layers.* -> *_transformer.layers.*;  self_attn.in_proj_weight -> in_proj.weight
  quantizer.*.{input,output}_proj.weight [out, in, 1] -> Linear [out, in]
  quantizer.*.vq.layers.N._codebook.{embedding_sum, cluster_usage}
      -> quantizer.*.layers.N.embedding = embedding_sum / clamp(cluster_usage, 1e-5)
  `_initialized` (a training flag) is accepted and dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from ..errors import CheckpointError
from .config import MimiConfig
from .model import Mimi

_CONV = re.compile(r"^(.*?)((?:\.(?:conv|convtr))+)\.(weight|bias)$")
_CODEBOOK = re.compile(r"^(quantizer\.rvq_\w+)\.vq\.layers\.(\d+)\._codebook\.(\w+)$")
_USAGE_EPS = 1e-5


def _list_keys(keys, limit: int = 6) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def translate_release(weights: dict[str, mx.array], source: str = "checkpoint") -> dict[str, mx.array]:
    """Release names/layouts -> ours. Unknown names raise CheckpointError naming them."""
    out: dict[str, mx.array] = {}
    codebooks: dict[str, dict[str, mx.array]] = {}
    unexpected = []
    for key, value in weights.items():
        if m := _CODEBOOK.match(key):
            codebooks.setdefault(f"{m[1]}.layers.{m[2]}.embedding", {})[m[3]] = value
        elif m := _CONV.match(key):
            name = f"{m[1]}.{m[3]}"
            if m[3] == "weight":
                if value.ndim != 3:
                    raise CheckpointError(f"{source}: {key} has shape {value.shape}, expected a 3-d conv weight")
                if name == "upsample.weight":
                    value = value[:, 0, :].T
                elif "convtr" in m[2]:
                    value = value.transpose(0, 2, 1)
                else:
                    value = value.transpose(2, 1, 0)
            out[name] = value
        elif key.startswith("quantizer.") and key.endswith("_proj.weight"):
            if value.ndim != 3 or value.shape[-1] != 1:
                raise CheckpointError(f"{source}: {key} has shape {value.shape}, expected [out, in, 1]")
            out[key] = value[..., 0]
        elif "_transformer.transformer.layers." in key:
            key = key.replace("_transformer.transformer.", "_transformer.", 1)
            out[key.replace(".in_proj_weight", ".in_proj.weight")] = value
        else:
            unexpected.append(key)
    for name, parts in codebooks.items():
        extra = set(parts) - {"embedding_sum", "cluster_usage", "_initialized"}
        unexpected += [f"{name}:{p}" for p in extra]
        if "embedding_sum" not in parts or "cluster_usage" not in parts:
            raise CheckpointError(f"{source}: codebook {name} lacks embedding_sum or cluster_usage")
        usage = mx.maximum(parts["cluster_usage"].astype(mx.float32), _USAGE_EPS)
        out[name] = parts["embedding_sum"].astype(mx.float32) / usage[:, None]
    if unexpected:
        raise CheckpointError(f"{source} is not a Mimi checkpoint: unexpected keys {_list_keys(unexpected)}")
    return out


def export_release_format(model: Mimi) -> dict[str, mx.array]:
    """Ours -> release names/layouts (the inverse of translate_release), e.g. to write a checkpoint."""
    out: dict[str, mx.array] = {}
    for name, value in tree_flatten(model.parameters()):
        if m := re.match(r"^(quantizer\.rvq_\w+)\.layers\.(\d+)\.embedding$", name):
            prefix = f"{m[1]}.vq.layers.{m[2]}._codebook."
            out[prefix + "embedding_sum"] = value
            out[prefix + "cluster_usage"] = mx.ones((value.shape[0],), dtype=value.dtype)
            out[prefix + "_initialized"] = mx.ones((1,), dtype=value.dtype)
        elif name.startswith("quantizer."):
            out[name] = value[..., None]
        elif "_transformer.layers." in name:
            name = name.replace("_transformer.", "_transformer.transformer.", 1)
            out[name.replace(".in_proj.weight", ".in_proj_weight")] = value
        else:
            base, leaf = name.rsplit(".", 1)
            if base == "downsample":
                wrap = ".conv.conv.conv."
            elif base == "upsample":
                wrap = ".convtr.convtr.convtr."
            elif base.startswith("decoder.") and _is_convtr(model, base):
                wrap = ".convtr.convtr."
            else:
                wrap = ".conv.conv."
            if leaf == "weight" and base == "upsample":
                value = value.T[:, None, :]
            elif leaf == "weight":
                value = value.transpose(0, 2, 1) if "convtr" in wrap else value.transpose(2, 1, 0)
            out[base + wrap + leaf] = value
    return out


def _is_convtr(model: Mimi, base: str) -> bool:
    from .conv import StreamingConvTranspose1d

    index = int(base.split(".")[2])
    return base.count(".") == 2 and isinstance(model.decoder.model[index], StreamingConvTranspose1d)


def load_weights(model: Mimi, weights: dict[str, mx.array], source: str = "checkpoint") -> Mimi:
    """Check names and shapes against the model, then copy. Errors name the file and keys."""
    ours = translate_release(weights, source)
    expected = dict(tree_flatten(model.parameters()))
    missing, unexpected = set(expected) - set(ours), set(ours) - set(expected)
    problems = []
    if missing:
        problems.append(f"missing keys {_list_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_list_keys(unexpected)}")
    if problems:
        raise CheckpointError(f"{source} does not match the Mimi config: " + "; ".join(problems))
    for name, value in ours.items():
        if value.shape != expected[name].shape:
            raise CheckpointError(f"{source}: {name} has shape {tuple(value.shape)}, the Mimi config "
                                  f"wants {tuple(expected[name].shape)}")
    from ..finite import check_finite

    check_finite(ours, source, "Mimi weights")
    # Transposes are strided views in MLX: copy them once here, not at every step.
    model.load_weights([(k, mx.contiguous(v)) for k, v in ours.items()], strict=True)
    return model


def load_mimi(path: str | Path, num_codebooks: int = 8, config: MimiConfig | None = None,
              dtype: mx.Dtype | None = None, compile: bool = True) -> Mimi:
    """Load a release-format Mimi safetensors file (the weights are read lazily by MLX)."""
    path = Path(path)
    config = config or MimiConfig.moshi()
    if not 1 <= num_codebooks <= config.n_q:
        raise CheckpointError(f"{path}: num_codebooks {num_codebooks} not in 1..{config.n_q}")
    if not path.is_file():
        raise CheckpointError(f"Mimi weights file not found: {path}")
    try:
        weights = mx.load(str(path))
    except Exception as e:  # MLX raises plain RuntimeError/ValueError on unreadable files
        raise CheckpointError(f"cannot read Mimi weights {path}: {e}") from None
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path} is not a safetensors weights file")
    model = Mimi(config, num_codebooks=num_codebooks, compile=compile)
    load_weights(model, weights, source=str(path))
    if dtype is not None:
        model.set_dtype(dtype)
    mx.eval(model.parameters())
    return model
