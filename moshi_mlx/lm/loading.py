"""Load a Moshi LM from any of the three checkpoint forms; quantize one in memory.

(a) Kyutai's PyTorch release file (`model.safetensors`, PyTorch names, bf16), translated at load;
(b) Kyutai's MLX repos (`model.q4.safetensors`, `model.q8.safetensors`, `model.safetensors`, MLX
    names, no config.json: the Moshi 7B config, quantization implied by the file name);
(c) our folders: config.json (Kyutai lm_kwargs names + mlx-lm style "quantization") + weights."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import mlx.core as mx
import mlx.nn as nn

from ..device import activation_dtype
from ..errors import CheckpointError
from ..jsonfile import read_json_object
from .config import LmConfig
from .model import Lm
from .step_sharing import share_step_weights, tie_step_weights, tied_step_parts
from .transformer import RMSNorm
from .weights import KNOWN_FILES, check_weights, module_quantization, pytorch_release_names, sanitize


def resolve_checkpoint(path: str | Path, config: LmConfig | None = None
                       ) -> tuple[list[Path], LmConfig, dict | None]:
    """(weight files, config, quantization) for a file or a folder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    folder = path if path.is_dir() else path.parent
    config_file = folder / "config.json"
    quantization = None
    if config_file.is_file():  # form (c)
        raw = read_json_object(config_file)
        quantization = raw.get("quantization") or None
        if config is None:
            config = LmConfig.from_dict(raw, source=str(config_file))
        if path.is_dir():
            name = raw.get("moshi_name")
            files = [folder / name] if name else sorted(folder.glob("model*.safetensors"))
        else:
            files = [path]
        if not quantization and files:  # Kyutai's MLX repos: quantization implied by the file name
            quantization = KNOWN_FILES.get(files[0].name)
    else:  # forms (a) and (b): the Moshi 7B unless told otherwise
        config = config or LmConfig.moshi_7b()
        if path.is_dir():
            found = [folder / n for n in KNOWN_FILES if (folder / n).is_file()]
            if len(found) > 1:
                raise CheckpointError(f"{folder}: several model files ({', '.join(f.name for f in found)}); "
                                      "pass the one to load")
            files = found
        else:
            files = [path]
        quantization = KNOWN_FILES.get(files[0].name) if files else None
    if not files or not all(f.is_file() for f in files):
        raise CheckpointError(f"{path}: no model weights found (expected config.json + model*.safetensors, "
                              f"or one of {', '.join(KNOWN_FILES)})")
    return files, config, quantization


def load_weight_files(files: list[Path]) -> dict[str, mx.array]:
    """Lazy: mx.load reads a tensor's bytes only when it is evaluated."""
    weights: dict[str, mx.array] = {}
    for f in files:
        try:
            part = mx.load(str(f))
        except Exception as e:  # MLX raises plain runtime errors on malformed files
            raise CheckpointError(f"{f}: not a readable safetensors file ({e})") from None
        weights.update(part)
    return weights


def load_lm(path: str | Path, config: LmConfig | None = None, dtype: mx.Dtype | None = None) -> Lm:
    """Load a Moshi LM from a file or a folder (any of the three forms), checking every key and
    shape. Floating weights are cast to `dtype` (default: the device's activation dtype)."""
    implied = config is None and not (Path(path) if Path(path).is_dir() else Path(path).parent
                                        ).joinpath("config.json").is_file()
    files, config, quantization = resolve_checkpoint(path, config)
    dtype = dtype or activation_dtype()
    raw = load_weight_files(files)
    pytorch_file = pytorch_release_names(raw)
    weights = sanitize(raw, config)
    source = str(files[0] if len(files) == 1 else files[0].parent)
    if not quantization and any(k.endswith(".scales") for k in weights):
        raise CheckpointError(f"{source}: holds quantized weights but no quantization is recorded "
                              "(config.json 'quantization' or a known file name such as model.q4.safetensors)")
    if implied:
        _check_implied_7b(raw, weights, config, quantization, source)
    del raw  # its arrays are the file's: a duplicate dropped below must not stay alive through it
    share_step_weights(weights, config)  # depformer steps sharing one weight set: one copy
    check_weights(weights, config, quantization, source, pytorch_file)
    model = Lm(config)
    if quantization:
        nn.quantize(model, class_predicate=lambda p, m: _predicate(quantization, p, m))
    # Everything floating, quantization scales/biases included, in the activation dtype: a quantized
    # matmul otherwise converts its scales and biases on every call. A shared array is cast once.
    cast: dict[int, mx.array] = {}
    weights = {k: v if v.dtype == mx.uint32 else cast.setdefault(id(v), v.astype(dtype))
               for k, v in weights.items()}
    model.load_weights(list(weights.items()), strict=True)
    mx.eval(model.parameters())
    return model


def _check_implied_7b(raw: Mapping, weights: Mapping, config: LmConfig, quantization, source: str) -> None:
    """A folder without config.json is taken for Kyutai's Moshi 7B: when its weights clearly are
    not, say so in one line instead of listing hundreds of missing keys."""
    from .weights import stored_shapes

    expected = stored_shapes(config, quantization)
    found = len(set(expected) & set(weights))
    if found >= len(expected) // 2:
        return
    text = next((raw[k] for k in ("text_emb.weight",) if k in raw), None)
    shape = f", text_emb.weight {list(text.shape)}" if text is not None else ""
    raise CheckpointError(
        f"{source}: no config.json, and its {len(raw)} tensors{shape} are not Kyutai's Moshi 7B "
        f"(only {found} of its {len(expected)} parameters match). A model folder needs a config.json "
        "(Kyutai's lm_kwargs names), unless it is a Moshi 7B release: Kyutai's MLX form "
        "(model.q4/q8.safetensors or model.safetensors) or its PyTorch form (model.safetensors)")


def _predicate(quantization: Mapping, path: str, module: nn.Module):
    if not hasattr(module, "to_quantized"):
        return False
    q = module_quantization(quantization, path)
    return False if q is None else q


def quantize_lm(model: Lm, bits: int, group_size: int, overrides: Mapping | None = None) -> dict:
    """Quantize every Linear and Embedding of `model` in place (per-module `overrides` keyed by
    module path: a {"bits", "group_size"} dict or False). Evaluates module by module, so a lazily
    created full-precision model is never materialized whole. Returns the config.json
    "quantization" entry."""
    quantization = {"group_size": group_size, "bits": bits, "mode": "affine", **dict(overrides or {})}

    def predicate(path: str, module: nn.Module):
        q = _predicate(quantization, path, module)
        if q and module.weight.shape[-1] % q["group_size"]:
            quantization[path] = False  # an input width the group size does not divide
            return False
        return q

    tied = tied_step_parts(model)  # depformer steps sharing one weight set stay shared
    nn.quantize(model, class_predicate=predicate)
    tie_step_weights(model, tied)
    leaves = (nn.QuantizedLinear, nn.QuantizedEmbedding, nn.Linear, nn.Embedding, RMSNorm)
    for _, module in model.named_modules():
        if isinstance(module, leaves):
            mx.eval(module.parameters())
    return quantization
