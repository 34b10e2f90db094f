"""Parity with Kyutai's PyTorch Mimi (moshi 0.2.13) on random weights in the release format: codes
identical for >= 99.9% of entries, audio within 1e-3, in batch and in streaming mode, over streams
longer than the transformer context."""

import mlx.core as mx
import numpy as np
import pytest

from moshi_mlx.mimi import MimiConfig, load_mimi

from .reference import make_signal, ref_decode, ref_encode, ref_stream, reference_mimi

AGREE, ATOL = 0.999, 1e-3


def _stream(model, pcm, codes):
    state = model.init_state(pcm.shape[0])
    enc = [np.array(model.encode_step(mx.array(pcm[..., i * 1920:(i + 1) * 1920]), state))
           for i in range(pcm.shape[-1] // 1920)]
    dec = [np.array(model.decode_step(mx.array(codes[..., i:i + 1]), state))
           for i in range(codes.shape[-1])]
    return np.concatenate(enc, -1), np.concatenate(dec, -1)


def _check(ours_codes, ref_codes, ours_pcm, ref_pcm):
    assert ours_codes.shape == ref_codes.shape and ours_codes.dtype == np.int32
    agree = (ours_codes == ref_codes).mean()
    err = np.abs(ours_pcm - ref_pcm).max()
    assert agree >= AGREE, f"codes agree on {agree:.4%}"
    assert ours_pcm.shape == ref_pcm.shape and err <= ATOL, f"audio max abs error {err}"
    return agree, err


def test_tiny_batch_and_streaming_200_frames(tiny_checkpoint):
    cfg = MimiConfig.tiny()  # context 10 positions (5 frames): 200 frames run far past it
    ref = reference_mimi(cfg, tiny_checkpoint, num_codebooks=8)
    ours = load_mimi(tiny_checkpoint, num_codebooks=8, config=cfg)
    pcm = make_signal(2, 200, seed=3)
    ref_codes = ref_encode(ref, pcm)
    _check(np.array(ours.encode(mx.array(pcm))), ref_codes,
           np.array(ours.decode(mx.array(ref_codes))), ref_decode(ref, ref_codes))
    ref_stream_codes, ref_stream_pcm = ref_stream(ref, pcm, ref_codes)
    ours_codes, ours_pcm = _stream(ours, pcm, ref_codes)
    _check(ours_codes, ref_stream_codes, ours_pcm, ref_stream_pcm)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_tiny_codebook_counts(tiny_checkpoint, k):
    cfg = MimiConfig.tiny()
    ref = reference_mimi(cfg, tiny_checkpoint, num_codebooks=k)
    ours = load_mimi(tiny_checkpoint, num_codebooks=k, config=cfg)
    pcm = make_signal(1, 8, seed=k)
    codes = np.array(ours.encode(mx.array(pcm)))
    assert codes.shape == (1, k, 8)
    np.testing.assert_array_equal(codes, ref_encode(ref, pcm))
    np.testing.assert_allclose(np.array(ours.decode(mx.array(codes))), ref_decode(ref, codes), atol=ATOL)


@pytest.mark.slow
def test_full_size_batch(full_checkpoint, full_reference):
    ours = load_mimi(full_checkpoint, num_codebooks=8)
    pcm = make_signal(1, 40, seed=4)
    ref_codes = ref_encode(full_reference, pcm)
    _check(np.array(ours.encode(mx.array(pcm))), ref_codes,
           np.array(ours.decode(mx.array(ref_codes))), ref_decode(full_reference, ref_codes))


@pytest.mark.slow
def test_full_size_streaming_past_context(full_checkpoint, full_reference):
    """130 frames = 260 positions at 25 Hz: past the 250-position context of both transformers
    (the tiny test runs 200 frames, 40x its context)."""
    ours = load_mimi(full_checkpoint, num_codebooks=8)
    pcm = make_signal(1, 130, seed=5)
    ref_codes, ref_pcm = ref_stream(full_reference, pcm, ref_encode(full_reference, pcm))
    ours_codes, ours_pcm = _stream(ours, pcm, ref_codes)
    _check(ours_codes, ref_codes, ours_pcm, ref_pcm)
