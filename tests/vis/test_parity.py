"""MoshiVis parity with Kyutai's PyTorch reference (kyuteye_pt) on random weights of the release
structure at tiny widths. The reference outputs were generated once by make_reference.py."""

import mlx.core as mx
import numpy as np

from moshi_mlx.lm.generate import LmGen
from moshi_mlx.lm.sampling import make_sampler
from moshi_mlx.vis.lm import image_source


def greedy_tokens(lm, codes, source=None, start=0):
    gen = LmGen(lm, make_sampler(0.0), make_sampler(0.0), seed=0, dtype=mx.float32)
    if source is not None:
        gen.set_cross(source, start=start)
    out = [gen.step(c) for c in codes]
    return np.array([[o.text_token, *o.audio_codes] for o in out if o is not None])


def test_image_encoder_matches_reference(tiny):
    lm, _, ref = tiny
    encoded = lm.image.encoder(ref["pixels"])
    np.testing.assert_allclose(np.array(encoded), np.array(ref["encoded"]), atol=1e-5)
    source = image_source(lm, ref["pixels"])
    np.testing.assert_allclose(np.array(source), np.array(ref["cross_src"]), atol=1e-5)


def test_greedy_tokens_with_image_match_reference(tiny):
    lm, config, ref = tiny
    codes = np.array(ref["user_codes"])
    got = greedy_tokens(lm, codes, image_source(lm, ref["pixels"]), config["xa_start"])
    np.testing.assert_array_equal(got, np.array(ref["tokens_image"]))


def test_greedy_tokens_without_image_match_reference(tiny):
    lm, _, ref = tiny
    got = greedy_tokens(lm, np.array(ref["user_codes"]))
    np.testing.assert_array_equal(got, np.array(ref["tokens_plain"]))
    # the image does change the conversation (else the test above would prove little)
    assert (np.array(ref["tokens_image"]) != np.array(ref["tokens_plain"])).any(axis=1).sum() > 10


def test_image_before_start_changes_nothing(tiny):
    """Before xa_start the layers skip the cross-attention: the frames equal the plain ones."""
    lm, config, ref = tiny
    codes = np.array(ref["user_codes"])
    got = greedy_tokens(lm, codes, image_source(lm, ref["pixels"]), start=len(codes) + 5)
    np.testing.assert_array_equal(got, np.array(ref["tokens_plain"]))
