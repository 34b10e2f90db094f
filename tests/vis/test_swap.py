"""A new image during a conversation. Kyutai's model takes the image's keys and values as an
argument of every step (ca_src), attended to from call xa_start on; a swap is that argument
changing between two calls. So: a swap before xa_start is a run with the new image from the start;
a swap after it continues the same stream (KV cache, delays, random key) with the new keys and
values. Checked with the parity model (tests/vis/data) and with demo-vis through FrameEngine."""

import mlx.core as mx
import numpy as np
import pytest
from PIL import Image

from moshi_mlx.lm.generate import LmGen
from moshi_mlx.lm.sampling import make_sampler
from tests.support.greedy import tokens_of as _tokens
from moshi_mlx.vis.lm import image_source


def _gen(lm):
    return LmGen(lm, make_sampler(0.0), make_sampler(0.0), seed=0, dtype=mx.float32)


def test_swap_before_xa_start_equals_a_run_with_the_new_image(tiny):
    lm, config, ref = tiny
    codes, start = np.array(ref["user_codes"]), config["xa_start"]
    a, b = image_source(lm, ref["pixels"]), image_source(lm, -ref["pixels"])
    fresh, swapped = _gen(lm), _gen(lm)
    fresh.set_cross(b, start=start)
    swapped.set_cross(a, start=start)
    out_f, out_s = [], []
    for i, c in enumerate(codes):
        if i == start - 1:
            swapped.set_cross(b, start=start)  # image a never attended to: as if b all along
        out_f.append(fresh.step(c))
        out_s.append(swapped.step(c))
    np.testing.assert_array_equal(_tokens(out_s), _tokens(out_f))


def test_swap_after_xa_start_continues_the_same_stream(tiny):
    lm, config, ref = tiny
    codes, start, at = np.array(ref["user_codes"]), config["xa_start"], 12
    a, b = image_source(lm, ref["pixels"]), image_source(lm, -ref["pixels"])
    swapped = _gen(lm)
    swapped.set_cross(a, start=start)
    out = [swapped.step(c) for c in codes[:at]]
    swapped.set_cross(b, start=start)
    out += [swapped.step(c) for c in codes[at:]]
    # primed the same way: a stream that saw image a for calls 0..11, its state carried into a
    # generator that has image b from the start
    primer = _gen(lm)
    primer.set_cross(a, start=start)
    primed = [primer.step(c) for c in codes[:at]]
    fresh_b = _gen(lm)
    fresh_b.set_cross(b, start=start)
    fresh_b.restore(primer.snapshot())
    primed += [fresh_b.step(c) for c in codes[at:]]
    np.testing.assert_array_equal(_tokens(out), _tokens(primed))
    only_a = _tokens(ref_run(lm, a, codes, start))
    assert (only_a[at:] != _tokens(out)[at:]).any()  # the new image changed what followed


def ref_run(lm, source, codes, start):
    gen = _gen(lm)
    gen.set_cross(source, start=start)
    return [gen.step(c) for c in codes]


@pytest.fixture(scope="module")
def demo_vis(tmp_path_factory, demo_models):
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model

    home = demo_models.home(tmp_path_factory.mktemp("home"), "demo-vis")
    d = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), np.uint8)).save(d / f"{name}.png")
    (d / "notes.png").write_text("not a picture")
    return load_model(resolve_model("demo-vis", cache_dir=str(home))), d


def _frames(core, count, seed=2):
    rng = np.random.default_rng(seed)
    return [core.step((0.1 * rng.standard_normal(1920)).astype(np.float32)) for _ in range(count)]


def _codes(results):
    return np.array([[r.text_token, *r.audio_codes] for r in results if r.text_token is not None])


def test_frame_engine_change_swaps_the_image(demo_vis):
    """FrameEngine.change({"image": ...}) between two frames (what the live session does on the
    MLX worker) = the generator's swap; "image": None goes back to plain Moshi."""
    from moshi_mlx.engine.core import FrameEngine, Sampling
    from moshi_mlx.errors import MoshiError

    model, d = demo_vis
    xa_start = model.lm.vis_config.xa_start
    core = FrameEngine(model, Sampling.greedy(seed=0), {"image": str(d / "a.png")})
    first = _codes(_frames(core, xa_start + 6))
    core.reset()
    head = _frames(core, xa_start + 2)
    core.change({"image": str(d / "b.png")})
    swapped = _codes(head + _frames(core, 4))
    # the same frames as before the swap; then image b
    np.testing.assert_array_equal(swapped[:xa_start], first[:xa_start])
    assert not np.array_equal(swapped, first)
    assert core.setup.options["image"] == str(d / "b.png")
    with pytest.raises(MoshiError, match="not an image"):
        core.change({"image": str(d / "notes.png")})
    assert core.setup.options["image"] == str(d / "b.png")  # a bad file changes nothing
    with pytest.raises(MoshiError, match="cannot change"):
        core.change({"voice": "x"})
    core.change({"image": None})
    assert core.gen._cross_now() == []
