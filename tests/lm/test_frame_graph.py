"""The frame graph's shortcuts (fewer nodes per frame, see docs/performance.md) give exactly the
values of the plain layouts: token columns from the samplers, the rope in pair layout, the
single-row q, k, v split of the temporal attention, the depformer's token columns."""

import mlx.core as mx
import numpy as np
import pytest

from moshi_mlx.lm import Lm, LmConfig, make_sampler
from moshi_mlx.lm.kv_cache import make_ring_cache
from moshi_mlx.lm.rope import apply_rope, pair_shape, rope_tables, rotate_pairs
from moshi_mlx.lm.transformer import Attention


@pytest.mark.parametrize("settings", [(0.0, None), (0.8, 250), (0.7, 25), (0.7, None)])
def test_sampler_column_is_the_tokens_as_a_column(settings):
    sampler = make_sampler(settings[0], top_k=settings[1])
    for seed in range(20):
        logits = 3 * mx.random.normal((2, 2048), key=mx.random.key(100 + seed))
        key = mx.random.key(seed)
        column = sampler.column(logits, key)
        assert column.shape == (2, 1) and column.dtype == mx.int32
        np.testing.assert_array_equal(np.array(column)[:, 0], np.array(sampler(logits, key)))


@pytest.mark.parametrize("interleave", [True, False])
def test_rotate_pairs_is_apply_rope_in_pair_layout(interleave):
    x = mx.random.normal((2, 3, 4, 32), key=mx.random.key(0))
    cos, sin = rope_tables(mx.array(17), 32, 10000.0, interleave)
    pairs = rotate_pairs(x.reshape(pair_shape(x.shape, interleave)), cos, sin, interleave)
    assert pairs.shape == pair_shape(x.shape, interleave)
    np.testing.assert_array_equal(np.array(pairs.reshape(x.shape)), np.array(apply_rope(x, cos, sin, interleave)))


@pytest.mark.parametrize("interleave", [True, False])
@pytest.mark.parametrize("rows", [1, 2])
def test_single_position_attention_split_matches_the_general_layout(interleave, rows):
    """One position: q, k, v split from [B, 3H, 1, Dh] are bit for bit those of the [B, 3, H, Dh]
    layout (cache contents and output), for one row and for two (classifier-free guidance)."""
    dim, heads = 64, 4
    attn = Attention(dim, heads, 10000.0, interleave=interleave)
    mx.eval(attn.parameters())
    x = mx.random.normal((rows, 1, dim), key=mx.random.key(1))
    offset = mx.array(5, dtype=mx.int32)
    rope = rope_tables(offset, dim // heads, 10000.0, interleave)
    caches = [make_ring_cache(1, rows, heads, dim // heads, 16, mx.float32).seek(offset).layers[0]
              for _ in range(2)]
    mask = caches[0].make_mask(1)
    ours = attn(x, mask, caches[0], rope)
    q, k, v = (a.reshape(rows, heads, 1, dim // heads) for a in mx.split(attn.qkv(x, rope), 3, axis=1))
    keys, values = caches[1].update_and_fetch(k, v)
    plain = attn.out_proj(caches[1].attend(q, keys, values, attn.scale, mask).reshape(rows, 1, -1))
    np.testing.assert_array_equal(np.array(ours), np.array(plain))
    np.testing.assert_array_equal(np.array(caches[0].keys), np.array(caches[1].keys))
    np.testing.assert_array_equal(np.array(caches[0].values), np.array(caches[1].values))


def test_depformer_takes_plain_samplers_and_token_columns_alike():
    """A sampler without `column` (any (logits, key) -> [B] callable) samples the same codebooks
    as the built-in one; the teacher-forced logits agree for tokens [B] and [B, 1]."""
    mx.random.seed(4)
    model = Lm(LmConfig.tiny())
    mx.eval(model.parameters())
    sampler = make_sampler(0.8, top_k=10)
    out = mx.random.normal((1, 1, model.config.dim), key=mx.random.key(2))
    text = mx.array([3])
    keys = [mx.random.key(i) for i in range(model.config.dep_q)]
    ours = model.depformer_sample(out, text, sampler, keys)
    plain = model.depformer_sample(out, text, lambda logits, key: sampler(logits, key), keys)
    assert ours.shape == (1, model.config.dep_q)
    np.testing.assert_array_equal(np.array(ours), np.array(plain))
    model.prepare(mx.float32)
    tables = model._tables.depformer
    a = model.depformer.step(0, out, text, model.depformer.new_cache(), tables[0])
    b = model.depformer.step(0, out, text[:, None], model.depformer.new_cache(), tables[0])
    np.testing.assert_array_equal(np.array(a), np.array(b))


def test_frame_graph_nodes_counts_without_stepping():
    """bench.graph_nodes counts the next frame's compiled graph and leaves the generator as it
    was: the frames that follow are those of an uncounted twin."""
    from moshi_mlx.bench.graph_nodes import frame_graph_nodes
    from moshi_mlx.lm import LmGen

    mx.random.seed(5)
    model = Lm(LmConfig.tiny())
    mx.eval(model.parameters())
    counted, twin = (LmGen(model, seed=0, dtype=mx.float32) for _ in range(2))
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, model.config.card, 8) for _ in range(6)]
    for c in codes[:3]:
        counted.step(c), twin.step(c)
    nodes = frame_graph_nodes(counted)
    text_nodes = frame_graph_nodes(counted, "text")
    assert nodes["Matmul"] > 0 and sum(text_nodes.values()) < sum(nodes.values())
    assert counted.offset == twin.offset == 3
    for c in codes[3:]:
        a, b = counted.step(c), twin.step(c)
        assert a.text_token == b.text_token and np.array_equal(a.audio_codes, b.audio_codes)
