"""Loading a MoshiVis model: a folder with our config.json (`model_type: "moshivis"`, the LM's
lm_kwargs names + `vision_config` + the adapter keys, see config.py), or Kyutai's PyTorch release
folder (no config.json; model.safetensors with `image_prefix.*` and `llm.*` keys: the release
config is implied). Every key and shape is checked against the model before anything is copied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ..device import activation_dtype
from ..errors import CheckpointError, ConfigError
from ..lm.config import LmConfig
from ..lm.loading import load_weight_files
from ..lm.model import Lm
from .config import MODEL_TYPE, VisConfig
from .lm import build_vis_lm
from .weights import is_release, sanitize

VIS_KEYS = frozenset({"vision_config", "xa_start", "xa_end", "xa_shared", "xa_gating", "xa_conditional_gating",
                      "xa_gate_shared", "xa_delay", "xa_step", "xa_dim", "xa_layers", "norm_xa", "norm_extra",
                      "num_extra_tokens", "num_crossattended_tokens", "encoder_name", "image_size",
                      "interpolation", "add_boi_eoi", "align_img_and_speech_tokens_dim"})
RELEASE_FILE = "model.safetensors"


def split_config(raw: Mapping, source: str = "config.json") -> tuple[LmConfig, VisConfig]:
    """One config.json -> (the LM's config, the adapter's)."""
    if raw.get("model_type") != MODEL_TYPE:
        raise ConfigError(f"{source}: model_type {raw.get('model_type')!r} is not {MODEL_TYPE!r}")
    vis = VisConfig.from_dict({k: v for k, v in raw.items() if k in VIS_KEYS})
    lm = LmConfig.from_dict({k: v for k, v in raw.items() if k not in VIS_KEYS}, source=source)
    return lm, vis


def release_config() -> dict:
    """The config.json that Kyutai's release implies (Moshi 7B + PaliGemma2-448's SigLIP)."""
    return {"model_type": MODEL_TYPE, **LmConfig.moshi_7b().to_dict(with_extra=False), **VisConfig().to_dict()}


def folder_config(folder: Path) -> dict | None:
    """A MoshiVis folder's config (written or implied); None for any other folder."""
    config_file = folder / "config.json"
    if config_file.is_file():
        try:
            raw = json.loads(config_file.read_text())
        except (OSError, ValueError):
            return None
        return raw if isinstance(raw, dict) and raw.get("model_type") == MODEL_TYPE else None
    weights = folder / RELEASE_FILE
    if not weights.is_file():
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(weights), "numpy") as f:
            return release_config() if is_release(f.keys()) else None
    except Exception:  # not a safetensors file: not ours to judge here
        return None


def check_against(model: nn.Module, weights: Mapping[str, mx.array], source: str) -> None:
    expected = {k: tuple(v.shape) for k, v in tree_flatten(model.parameters())}
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = [f"{k}: {tuple(weights[k].shape)} instead of {expected[k]}"
             for k in sorted(set(expected) & set(weights)) if tuple(weights[k].shape) != expected[k]]
    problems = [f"{label}: " + ", ".join(items[:6]) + (f", ... ({len(items)} in all)" if len(items) > 6 else "")
                for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                                     ("wrong shapes", wrong)) if items]
    if problems:
        raise CheckpointError(f"{source}: does not match the MoshiVis config: " + "; ".join(problems))


def load_vis_lm(path: str | Path, dtype: mx.Dtype | None = None, config: Mapping | None = None) -> Lm:
    """A MoshiVis LM (with its image tower) from a folder; `config` overrides its config.json."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    raw = dict(config) if config is not None else folder_config(folder)
    if raw is None:
        raise CheckpointError(f"{folder}: not a MoshiVis model folder (config.json with model_type "
                              f"{MODEL_TYPE!r}, or Kyutai's {RELEASE_FILE} with image_prefix.* keys)")
    lm_config, vis = split_config(raw, str(folder / "config.json"))
    quantization = raw.get("quantization") or None
    name = path.name if path.is_file() else raw.get("moshi_name") or RELEASE_FILE
    files = [folder / name]
    if not files[0].is_file():
        raise CheckpointError(f"{folder}: no {name}")
    dtype = dtype or activation_dtype()
    weights = sanitize(load_weight_files(files), lm_config)
    model = build_vis_lm(lm_config, vis)
    if quantization:
        from ..lm.loading import _predicate

        nn.quantize(model, class_predicate=lambda p, m: _predicate(quantization, p, m))
    check_against(model, weights, str(files[0]))
    weights = {k: v if v.dtype == mx.uint32 else v.astype(dtype) for k, v in weights.items()}
    model.load_weights(list(weights.items()), strict=True)
    mx.eval(model.parameters())
    return model
