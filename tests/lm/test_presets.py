"""The released models' configurations (moshi_mlx/lm/presets.py) build, in Kyutai's PyTorch LMModel,
exactly the tensor counts and parameter totals published for their checkpoints."""

import re

import pytest
import torch
from mlx.utils import tree_flatten

from moshi_mlx.lm import Lm
from moshi_mlx.lm.presets import PRESETS, preset
from moshi_mlx.lm.weights import expected_shapes

# tensors in the release file, parameters (from ../shared/MODEL-CONFIGS.md and SPEC.md)
PUBLISHED = {
    "moshi-7b": (None, 7_687_729_152),
    "personaplex-7b": (475, None),
    "stt-2.6b": (323, None),
    "hibiki-1b": (262, None),
    "hibiki-2b": (327, None),
    "tts-1.6b": (418, None),
    "tts-0.75b": (312, None),
}


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_matches_published_checkpoint(name):
    from moshi.models import loaders

    config = preset(name)
    model = loaders.get_moshi_lm(None, lm_kwargs=config.pytorch_kwargs(), device="meta",
                                 dtype=torch.bfloat16)
    state = model.state_dict()
    release_keys = {re.sub(r"\.(in|out)_projs\.\d+\.weight$", r".\1_proj", k) for k in state}
    tensors, params = PUBLISHED.get(name, (None, None))
    if tensors is not None:
        assert len(release_keys) == tensors
    if params is not None:
        assert sum(v.numel() for v in state.values()) == params
    # our module tree (lazy: nothing is allocated) has exactly the expected names and shapes
    ours = {k: tuple(v.shape) for k, v in tree_flatten(Lm(config).parameters())}
    assert ours == expected_shapes(config)
