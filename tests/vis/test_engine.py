"""The image in a conversation: encoded once per file, replaced mid-conversation, or absent."""

import mlx.core as mx
import numpy as np
from PIL import Image

from moshi_mlx.lm.generate import LmGen
from moshi_mlx.lm.sampling import make_sampler
from tests.support.greedy import tokens_of as _tokens
from moshi_mlx.vis.lm import image_source
from moshi_mlx.vis.setup import image_cache


def _gen(lm):
    return LmGen(lm, make_sampler(0.0), make_sampler(0.0), seed=0, dtype=mx.float32)


def test_new_image_mid_conversation(tiny):
    lm, config, ref = tiny
    codes = np.array(ref["user_codes"])
    a = image_source(lm, ref["pixels"])
    b = image_source(lm, -ref["pixels"])
    only_a, switched = _gen(lm), _gen(lm)
    only_a.set_cross(a, start=config["xa_start"])
    switched.set_cross(a, start=config["xa_start"])
    out_a, out_s = [], []
    for i, c in enumerate(codes):
        if i == 12:
            switched.set_cross(b, start=config["xa_start"])  # from call 12 on, image b
        out_a.append(only_a.step(c))
        out_s.append(switched.step(c))
    ta, ts = _tokens(out_a), _tokens(out_s)
    np.testing.assert_array_equal(ta, np.array(ref["tokens_image"]))
    # output column c holds call c's text and call c+1's acoustic codes: equal up to column 10
    np.testing.assert_array_equal(ta[:11], ts[:11])
    assert (ta[12:] != ts[12:]).any()


def test_image_removed_and_reset_keeps_the_image(tiny):
    lm, config, ref = tiny
    codes = np.array(ref["user_codes"])
    gen = _gen(lm)
    gen.set_cross(image_source(lm, ref["pixels"]), start=config["xa_start"])
    first = _tokens([gen.step(c) for c in codes])
    gen.reset(seed=0)  # a new conversation about the same image
    again = _tokens([gen.step(c) for c in codes])
    np.testing.assert_array_equal(first, again)
    gen.reset(seed=0)
    gen.set_cross(None)
    np.testing.assert_array_equal(_tokens([gen.step(c) for c in codes]), np.array(ref["tokens_plain"]))


def test_image_encoded_once_per_file(tiny, tmp_path):
    lm, _, _ = tiny
    path = tmp_path / "p.png"
    Image.new("RGB", (50, 40), "blue").save(path)
    cache = image_cache(lm)
    first = cache.get(lm, str(path))
    assert cache.get(lm, str(path)) is first and cache.encode_seconds > 0
    Image.new("RGB", (50, 40), "red").save(path)  # the file changed: encoded again
    import os
    os.utime(path, ns=(1, 1))
    second = cache.get(lm, str(path))
    assert second is not first and not np.allclose(np.array(first), np.array(second))
    assert first.shape == (1, 9, lm.config.dim)
