"""The tiny MoshiVis of the reference data (tests/vis/data, made by make_reference.py)."""

import json
from pathlib import Path

import mlx.core as mx
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def tiny():
    """(LM loaded from Kyutai's names, its config.json contents, the reference outputs)."""
    from moshi_mlx.vis.loading import load_vis_lm

    config = json.loads((DATA / "tiny_config.json").read_text())
    return load_vis_lm(DATA, mx.float32, config), config, mx.load(str(DATA / "reference.safetensors"))
