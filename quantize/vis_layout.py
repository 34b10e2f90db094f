"""MoshiVis checkpoints in the converter: kyuteye's names (moshi_mlx/vis/weights.py), shapes from
the model itself, the image tower and projection kept float (lm.weights.UNQUANTIZED_PREFIXES).
A source is MoshiVis when its config.json says model_type "moshivis", or, without config.json,
when its safetensors file holds `image_prefix.*` keys (Kyutai's release: its config is implied)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from moshi_mlx.lm.loading import _predicate
from moshi_mlx.vis.config import MODEL_TYPE
from moshi_mlx.vis.lm import build_vis_lm
from moshi_mlx.vis.loading import check_against, release_config, split_config
from moshi_mlx.vis.weights import is_release, translate_tensor

from .lm_convert import LmLayout


class VisLayout(LmLayout):
    def __init__(self, raw: dict, source: str):
        self.raw = raw
        self.config, self.vis = split_config(raw, source)

    def _model(self, quantization=None):
        model = build_vis_lm(self.config, self.vis)  # lazy: only shapes are read
        if quantization:
            nn.quantize(model, class_predicate=lambda p, m: _predicate(quantization, p, m))
        return model

    def check_source(self, reader) -> None:
        from moshi_mlx.errors import CheckpointError

        if not is_release(reader.tensors):
            raise CheckpointError(f"{reader.path}: not a MoshiVis PyTorch checkpoint (no image_prefix.* "
                                  "and llm.* keys)")

    def translate(self, key: str, value: mx.array) -> list[tuple[str, mx.array]]:
        return translate_tensor(key, value, self.config)

    def expected(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in tree_flatten(self._model().parameters())}

    def check(self, planned: dict, quantization: dict | None, source: str) -> None:
        check_against(self._model(quantization), planned, source)

    def extra_config(self) -> dict:
        return {"model_type": MODEL_TYPE, **self.vis.to_dict()}


def vis_layout(src) -> VisLayout | None:
    if src.config is not None:
        if src.config.get("model_type") != MODEL_TYPE:
            return None
        return VisLayout(src.config, f"config of {src.origin}")
    if src.lm.suffix != ".safetensors":
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(src.lm), "numpy") as f:
            keys = list(f.keys())
    except Exception:  # the Moshi path reports unreadable files
        return None
    return VisLayout(release_config(), f"{src.lm} (Kyutai's MoshiVis release)") if is_release(keys) else None
