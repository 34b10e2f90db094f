"""MoshiVis's shared cross-attention (keys pre-scaled and transposed once per image) computes what
the generic cross-attention (MLX's SDPA) does, for one frame and for a prefill chunk."""

import mlx.core as mx
import numpy as np
import pytest

from moshi_mlx.lm.transformer import CrossAttention
from moshi_mlx.vis.modules import SharedCrossAttention


@pytest.mark.parametrize("frames", [1, 5])
def test_shared_cross_attention_matches_sdpa(frames):
    mx.random.seed(3)
    shared, generic = SharedCrossAttention(64, 4), CrossAttention(64, 4)
    generic.update(shared.parameters())
    source = mx.random.normal((1, 9, 64))
    x = mx.random.normal((1, frames, 64))
    keys_t, values = shared.source_kv(source)
    assert keys_t.shape == (1, 4, 16, 9)  # [B, H, Dh, tokens]: transposed once, here
    want = generic(x, *generic.source_kv(source))
    np.testing.assert_allclose(np.array(shared(x, keys_t, values)), np.array(want), rtol=1e-5, atol=1e-6)
