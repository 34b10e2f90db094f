"""Streaming generator: long runs past the context, the ring KV cache, sampling, state ownership."""

import mlx.core as mx
import numpy as np
import pytest
from mlx_lm.models.cache import RotatingKVCache

from moshi_mlx.lm import Lm, LmConfig, LmGen, make_sampler
from moshi_mlx.lm.transformer import ring_mask, ring_update


@pytest.fixture(scope="module")
def tiny():
    mx.random.seed(3)
    model = Lm(LmConfig.tiny(context=24))
    mx.eval(model.parameters())
    return model


def test_ring_cache_matches_mlx_lm_rotating_cache():
    """Attention over our fixed-shape ring == attention with mlx-lm's RotatingKVCache (same window:
    the last C positions including the new one), for 2.5x the capacity."""
    C, H, D = 8, 2, 16
    rng = np.random.default_rng(0)
    keys = mx.zeros((1, H, C, D))
    values = mx.zeros((1, H, C, D))
    ref = RotatingKVCache(max_size=C)
    for t in range(int(2.5 * C)):
        q, k, v = (mx.array(rng.standard_normal((1, H, 1, D)), dtype=mx.float32) for _ in range(3))
        offset = mx.array(t, dtype=mx.int32)
        keys, values = ring_update(keys, values, k, v, offset)
        mask = ring_mask(C, offset)
        ours = mx.fast.scaled_dot_product_attention(q, keys, values, scale=D ** -0.5, mask=mask)
        rk, rv = ref.update_and_fetch(k, v)
        theirs = mx.fast.scaled_dot_product_attention(q, rk, rv, scale=D ** -0.5)
        np.testing.assert_allclose(np.array(ours), np.array(theirs), atol=1e-5, err_msg=f"step {t}")


def test_long_run_constant_memory_output_keeps_changing(tiny):
    context = tiny.config.context
    gen = LmGen(tiny, seed=0, dtype=mx.float32)
    rng = np.random.default_rng(0)
    cache_shapes = [a.shape for a in gen._kv]
    texts, audio, memory = [], [], []
    steps = 3 * context  # >= 2.5x the context
    for t in range(steps):
        out = gen.step(rng.integers(0, tiny.config.card, 8))
        if out is not None:
            texts.append(out.text_token)
            audio.append(out.audio_codes)
        if t >= context // 2:
            memory.append(mx.get_active_memory())
    assert gen.offset == steps
    assert [a.shape for a in gen._kv] == cache_shapes
    assert max(memory) - min(memory) <= 64 * 1024, f"memory grew: {min(memory)} -> {max(memory)}"
    tail = np.stack(audio[-context:])
    assert len(set(texts[-context:])) > 1 and len(np.unique(tail)) > 1, "output stopped changing"


def test_seeded_sampling_reproducible_and_reset(tiny):
    rng = np.random.default_rng(5)
    user = rng.integers(0, tiny.config.card, (12, 8))

    def run(gen):
        return [(o.text_token, tuple(o.audio_codes)) for o in map(gen.step, user) if o is not None]

    a = LmGen(tiny, seed=7, dtype=mx.float32)
    first = run(a)
    assert run(LmGen(tiny, seed=7, dtype=mx.float32)) == first
    assert run(LmGen(tiny, seed=8, dtype=mx.float32)) != first
    a.reset(seed=7)
    assert a.offset == 0 and run(a) == first


def test_submit_collect_same_as_step(tiny):
    rng = np.random.default_rng(2)
    user = rng.integers(0, tiny.config.card, (6, 8))
    g1, g2 = LmGen(tiny, seed=1, dtype=mx.float32), LmGen(tiny, seed=1, dtype=mx.float32)
    for u in user:
        g2.submit(u)
        a, b = g1.step(u), g2.collect()
        assert (a is None and b is None) or (a.text_token == b.text_token and
                                             np.array_equal(a.audio_codes, b.audio_codes))
    with pytest.raises(RuntimeError):
        g2.collect()


def test_bad_user_codes(tiny):
    gen = LmGen(tiny, seed=0, dtype=mx.float32)
    with pytest.raises(ValueError, match="expected 8 user codes"):
        gen.step(np.zeros(3, int))
    with pytest.raises(ValueError, match="user codes must be"):
        gen.step(np.full(8, tiny.config.card + 1))  # card itself is the end-of-input token


def test_samplers():
    logits = mx.array(np.random.default_rng(0).standard_normal((4, 300)), dtype=mx.float32)
    greedy = make_sampler(0)(logits, None)
    np.testing.assert_array_equal(np.array(greedy), np.argmax(np.array(logits), -1))
    np.testing.assert_array_equal(np.array(make_sampler(0.8, top_k=1)(logits, mx.random.key(0))),
                                  np.array(greedy))
    top5 = np.argsort(-np.array(logits), -1)[:, :5]
    keys = mx.random.split(mx.random.key(0), 50)
    for key in keys:
        tok = np.array(make_sampler(1.0, top_k=5)(logits, key))
        assert all(tok[i] in top5[i] for i in range(4))
    nucleus = {int(make_sampler(1.0, top_p=1e-6)(logits, key)[0]) for key in keys}
    assert nucleus == {int(greedy[0])}
    both = {tuple(np.array(make_sampler(1.0, top_k=5, top_p=1e-6)(logits, key))) for key in keys}
    assert both == {tuple(np.array(greedy))}  # top-p within the k best
    spread = {int(make_sampler(1.0)(logits, key)[0]) for key in keys}
    assert len(spread) > 5
    with pytest.raises(ValueError):
        make_sampler(-1)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_top_k_samples_the_renormalized_distribution(temperature):
    """Frequencies over 20000 draws match softmax(logits / T) over the k best tokens."""
    rng = np.random.default_rng(1)
    row = rng.standard_normal(300).astype(np.float32)
    logits = mx.array(np.tile(row, (20000, 1)))  # one draw per row
    tokens = np.array(make_sampler(temperature, top_k=5)(logits, mx.random.key(3)))
    best = np.argsort(-row)[:5]
    p = np.exp(row[best] / temperature)
    p /= p.sum()
    freq = np.array([(tokens == t).mean() for t in best])
    assert np.isin(tokens, best).all()
    np.testing.assert_allclose(freq, p, atol=0.015)  # ~4 standard deviations


def test_warmup_leaves_the_state_as_it_was(tiny):
    rng = np.random.default_rng(9)
    user = rng.integers(0, tiny.config.card, (5, 8))
    a, b = LmGen(tiny, seed=4, dtype=mx.float32), LmGen(tiny, seed=4, dtype=mx.float32)
    b.warmup()  # keeps the seed's key, the cache and the buffer
    for u in user:
        x, y = a.step(u), b.step(u)
        assert (x is None and y is None) or (x.text_token == y.text_token and
                                             np.array_equal(x.audio_codes, y.audio_codes))


def test_kv_cache_dtype_halves_only_a_big_float32_ring():
    from moshi_mlx.lm.transformer import kv_cache_dtype

    seven = LmConfig.moshi_7b()
    elements = 2 * seven.num_layers * seven.num_heads * seven.head_dim * seven.context
    assert kv_cache_dtype(mx.float32, elements) == mx.bfloat16  # 2.9 GiB in float32
    assert kv_cache_dtype(mx.float32, 1000) == mx.float32
    assert kv_cache_dtype(mx.bfloat16, elements) == mx.bfloat16


def test_bfloat16_ring_under_float32_activations():
    """A bf16 ring with float32 activations (the 7B on the CPU backend) gives the float32 ring's
    text logits up to bf16 rounding, teacher-forced over 2x the context (the ring wraps)."""
    from moshi_mlx.lm.transformer import make_ring_cache

    mx.random.seed(4)
    c = LmConfig.tiny(context=16)
    model = Lm(c)
    mx.eval(model.parameters())
    tokens = np.random.default_rng(0).integers(0, c.card, (2 * c.context, c.num_codebooks))
    rings = {dt: make_ring_cache(c.num_layers, 1, c.num_heads, c.head_dim, c.context, dt)
             for dt in (mx.float32, mx.bfloat16)}
    worst = 0.0
    for t, tok in enumerate(tokens):
        logits = {}
        for dt in rings:
            _, logits[dt], rings[dt] = model.temporal(mx.array(tok[None], dtype=mx.int32), rings[dt],
                                                      mx.array(t, dtype=mx.int32), mx.float32)
        ref, got = np.array(logits[mx.float32]), np.array(logits[mx.bfloat16])
        assert got.dtype == np.float32
        worst = max(worst, float(np.abs(got - ref).max() / np.abs(ref).max()))
    assert all(a.dtype == mx.bfloat16 for a in rings[mx.bfloat16])
    assert 0 < worst < 0.02, worst


def test_snapshot_restore_replays_the_same_stream(tiny):
    """A stream restored from a snapshot continues exactly as the original did from that point."""
    rng = np.random.default_rng(9)
    user = rng.integers(0, tiny.config.card, (20, 8))
    gen = LmGen(tiny, seed=4, dtype=mx.float32)
    for u in user[:8]:
        gen.step(u)
    state = gen.snapshot()
    first = [(o.text_token, tuple(o.audio_codes)) for o in map(gen.step, user[8:])]
    gen.reset(seed=99)
    gen.step(user[0])
    gen.restore(state)
    assert gen.offset == 8
    assert [(o.text_token, tuple(o.audio_codes)) for o in map(gen.step, user[8:])] == first
