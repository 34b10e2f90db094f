"""The temporal KV cache objects (lm/kv_cache.py): where each position lands in the ring, what an
update returns and masks, prefix windows, trim, reset, state round trips, and the quantized ring's
attention against the float one."""

import mlx.core as mx
import numpy as np
import pytest

from moshi_mlx.lm.kv_cache import (LayerCaches, QuantizedRingKVCache, RingKVCache, caches_over,
                                   check_quantizable, make_ring_cache)

B, H, D = 1, 2, 4


def position(p: int, T: int = 1) -> mx.array:
    """Keys/values [B, H, T, D] whose every element is the position + 1 (0 marks an empty slot)."""
    return mx.broadcast_to(mx.array(np.arange(p, p + T, dtype=np.float32) + 1)[None, None, :, None], (B, H, T, D))


def slots(a: mx.array) -> list[int]:
    """The position + 1 held by each slot of a ring [B, H, C, D]."""
    return [int(v) for v in np.array(a)[0, 0, :, 0]]


def test_one_position_lands_in_slot_offset_mod_capacity_and_wraps():
    cache = RingKVCache.zeros(B, H, 4, D, mx.float32)
    for p in range(6):
        mask = cache.make_mask(1)
        keys, values = cache.update_and_fetch(position(p), position(p) * 2)
        if p == 2:
            assert slots(keys) == [1, 2, 3, 0]
            assert np.array(mask).tolist() == [True, True, True, False]
    assert slots(cache.keys) == [5, 6, 3, 4]  # positions 4, 5 overwrote 0, 1
    assert slots(cache.values) == [10, 12, 6, 8]
    assert np.array(cache.make_mask(1)).all() and cache.offset == 6


def test_window_attends_to_a_prefix_before_the_ring_wraps():
    cache = RingKVCache.zeros(B, H, 8, D, mx.float32, length=4)
    for p in range(3):
        mask = cache.make_mask(1)
        keys, _ = cache.update_and_fetch(position(p), position(p))
    assert keys.shape[2] == 4 and slots(keys) == [1, 2, 3, 0]
    assert np.array(mask).tolist() == [True, True, True, False]
    assert cache.keys.shape[2] == 8  # the ring itself keeps its capacity


def test_chunk_returns_the_used_slots_then_the_chunk_and_wraps_the_ring():
    cache = RingKVCache.zeros(B, H, 4, D, mx.float32)
    cache.update_and_fetch(position(0, 3), position(0, 3))  # positions 0, 1, 2
    assert slots(cache.keys) == [1, 2, 3, 0] and cache.offset == 3
    mask = np.array(cache.make_mask(3))  # positions 3, 4, 5 against slots 0..3 then the chunk
    keys, _ = cache.update_and_fetch(position(3, 3), position(3, 3))
    assert slots(keys) == [1, 2, 3, 0, 4, 5, 6]
    # Position 3 sees 0..3 (slot 3 holds nothing yet: it is written by the chunk itself), position 5
    # sees 2..5: the ring's slot 2 and the chunk.
    assert mask.tolist() == [[True, True, True, False, True, False, False],
                             [False, True, True, False, True, True, False],
                             [False, False, True, False, True, True, True]]
    assert slots(cache.keys) == [5, 6, 3, 4] and cache.offset == 6


def test_chunk_attention_equals_one_position_at_a_time():
    rng = np.random.default_rng(0)
    q, k, v = (mx.array(rng.standard_normal((B, H, 11, D)), dtype=mx.float32) for _ in range(3))
    steps, chunks = RingKVCache.zeros(B, H, 4, D, mx.float32), RingKVCache.zeros(B, H, 4, D, mx.float32)
    outs = []
    for t in range(11):
        mask = steps.make_mask(1)
        keys, values = steps.update_and_fetch(k[:, :, t:t + 1], v[:, :, t:t + 1])
        outs.append(steps.attend(q[:, :, t:t + 1], keys, values, 0.5, mask))
    for start, end in ((0, 2), (2, 7), (7, 11)):  # the last two chunks run across the ring's end
        mask = chunks.make_mask(end - start)
        keys, values = chunks.update_and_fetch(k[:, :, start:end], v[:, :, start:end])
        got = chunks.attend(q[:, :, start:end], keys, values, 0.5, mask)
        np.testing.assert_allclose(np.array(got), np.array(mx.concatenate(outs[start:end], axis=2)), atol=1e-6)
    np.testing.assert_array_equal(np.array(chunks.keys), np.array(steps.keys))


def test_trim_takes_back_positions_until_the_ring_wraps():
    cache = RingKVCache.zeros(B, H, 4, D, mx.float32)
    for p in range(3):
        cache.update_and_fetch(position(p), position(p))
    assert cache.trim(2) == 2 and cache.offset == 1
    assert np.array(cache.make_mask(1)).tolist() == [True, True, False, False]
    cache.update_and_fetch(position(7), position(7))  # written where position 1 was
    assert slots(cache.keys)[:2] == [1, 8]
    assert cache.trim(5) == 2 and cache.offset == 0
    for p in range(5):
        cache.update_and_fetch(position(p), position(p))
    assert not cache.is_trimmable() and cache.trim(1) == 0 and cache.offset == 5


def test_reset_empties_every_slot():
    caches = make_ring_cache(2, B, H, D, 4, mx.float32)
    for c in caches.layers:
        c.update_and_fetch(position(0, 3), position(0, 3))
    caches.reset()
    assert all(c.offset == 0 for c in caches.layers)
    assert all(not np.array(a).any() for a in caches)


def test_state_round_trip_and_layer_order():
    caches = make_ring_cache(2, B, H, D, 4, mx.float32)
    for i, c in enumerate(caches.layers):
        c.update_and_fetch(position(10 * i), position(10 * i) * 2)
    flat = list(caches)
    assert len(flat) == len(caches) == 4
    assert [slots(a)[0] for a in flat] == [1, 2, 11, 22]  # k0, v0, k1, v1
    other = caches_over(flat, offset=1)
    assert [c.offset for c in other.layers] == [1, 1]
    other.layers[0].update_and_fetch(position(1), position(1))
    assert slots(other.layers[0].keys)[:2] == [1, 2] and slots(caches.layers[0].keys)[:2] == [1, 0]
    caches.arrays = list(other)
    assert slots(caches[0])[:2] == [1, 2] and slots(caches[2])[0] == 11


def test_release_leaves_no_reference_and_arrays_restore():
    caches = make_ring_cache(1, B, H, D, 4, mx.float32)
    arrays = list(caches)
    caches.release()
    assert caches.layers[0].keys is None
    caches.arrays = arrays
    assert caches[0] is arrays[0]


@pytest.mark.parametrize("heads,kv_heads", [(2, 2), (4, 2)])
def test_quantized_ring_attention_close_to_the_float_ring(heads, kv_heads):
    """Step by step past the capacity, then a chunk across the ring's end: 8-bit keys and values
    give the float ring's attention up to quantization noise, with grouped heads too."""
    rng = np.random.default_rng(1)
    Dh, C, steps = 64, 8, 20
    q = mx.array(rng.standard_normal((1, heads, steps, Dh)), dtype=mx.float32)
    k, v = (mx.array(rng.standard_normal((1, kv_heads, steps, Dh)), dtype=mx.float32) for _ in range(2))
    ref = make_ring_cache(1, 1, kv_heads, Dh, C, mx.float32).layers[0]
    quant = make_ring_cache(1, 1, kv_heads, Dh, C, mx.float32, bits=8, group_size=64).layers[0]
    assert isinstance(quant, QuantizedRingKVCache) and len(quant.state) == 6
    worst = 0.0
    for start, end in [(t, t + 1) for t in range(14)] + [(14, 20)]:
        outs = []
        for c in (ref, quant):
            mask = c.make_mask(end - start)
            keys, values = c.update_and_fetch(k[:, :, start:end], v[:, :, start:end])
            outs.append(np.array(c.attend(q[:, :, start:end], keys, values, Dh ** -0.5, mask)))
        assert outs[1].shape == outs[0].shape
        worst = max(worst, float(np.abs(outs[1] - outs[0]).max()))
    assert 0 < worst < 0.03, worst
    assert sum(a.nbytes for a in quant.state) < 0.3 * sum(a.nbytes for a in ref.state)


def test_quantized_cache_checks_bits_and_groups():
    with pytest.raises(ValueError, match="group size must be 32, 64 or 128"):
        check_quantizable(8, 16)
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        check_quantizable(3, 64)


def test_narrow_heads_are_padded_to_a_group():
    """The demo models' 16-wide heads: stored padded to 32, attention over the true 16."""
    rng = np.random.default_rng(2)
    q, k, v = (mx.array(rng.standard_normal((1, 4, 5, 16)), dtype=mx.float32) for _ in range(3))
    ref = RingKVCache.zeros(1, 4, 8, 16, mx.float32)
    quant = QuantizedRingKVCache.zeros(1, 4, 8, 16, mx.float32, bits=8, group_size=32)
    assert quant.width == 32 and quant.keys[0].shape == (1, 4, 8, 32 * 8 // 32)
    outs = []
    for c in (ref, quant):
        mask = c.make_mask(5)
        keys, values = c.update_and_fetch(k, v)
        outs.append(np.array(c.attend(q, keys, values, 0.25, mask)))
    assert outs[1].shape == (1, 4, 5, 16)
    np.testing.assert_allclose(outs[1], outs[0], atol=0.03)


def test_layer_caches_of_quantized_rings_round_trip():
    caches = make_ring_cache(2, 1, 2, 32, 4, mx.float32, bits=8, group_size=32)
    assert caches.bits == 8 and len(list(caches)) == 12
    again = caches_over(list(caches), bits=8, group_size=32)
    assert isinstance(again.layers[1], QuantizedRingKVCache) and again.layers[1].group_size == 32
    assert isinstance(LayerCaches([]).arrays, list)
