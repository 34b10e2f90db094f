"""`demo-vis`: the demo LM (moshi_mlx/demo.py builds the tiny Moshi) turned into a MoshiVis one:
its weights are rewritten with the image tower and the adapter (random, fixed seed; the
gates opened so that the image visibly changes what the demo says)."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from ..kinds.moshivis import DEMO_VISION
from .config import SiglipConfig, VisConfig
from .lm import build_vis_lm

SEED = 20242


def make_demo_files(folder: Path, lm_config) -> dict:
    from ..demo import LM_FILE

    vis = VisConfig(vision=SiglipConfig(**DEMO_VISION))
    mx.random.seed(SEED)
    lm = build_vis_lm(lm_config, vis)
    for layer in lm.transformer.layers:  # open the gates (Kyutai's -4 shift keeps random ones ~shut)
        layer.cross_gate.linear_out.weight = layer.cross_gate.linear_out.weight * 20
    mx.save_safetensors(str(folder / LM_FILE), dict(tree_flatten(lm.parameters())))
    return vis.to_dict()
