"""Mimi.matmul_layout: the transformers' and quantizer's matrices stored as transposed views of
row-major copies (faster on the CPU BLAS) change nothing observable: shapes, names, values, the
exported checkpoint, codes and audio (bitwise)."""

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten, tree_map

from moshi_mlx.mimi import Mimi, MimiConfig, export_release_format


def _random_mimi(seed: int = 0) -> Mimi:
    model = Mimi(MimiConfig.tiny(), num_codebooks=8, compile=False)
    mx.random.seed(seed)
    model.update(tree_map(lambda p: 0.1 * mx.random.normal(p.shape), model.parameters()))
    mx.eval(model.parameters())
    return model


def test_layout_keeps_parameters_codes_and_audio():
    plain, fast = _random_mimi(), _random_mimi()
    plain.matmul_layout = lambda: None  # the reference: [out, in] matrices as loaded
    before = {k: np.array(v) for k, v in tree_flatten(fast.parameters())}
    fast.matmul_layout()
    after = dict(tree_flatten(fast.parameters()))
    assert set(after) == set(before)
    for name, value in after.items():
        assert value.shape == before[name].shape, name
        np.testing.assert_array_equal(np.array(value), before[name])
    exported = export_release_format(fast)
    for name, value in export_release_format(plain).items():
        np.testing.assert_array_equal(np.array(exported[name]), np.array(value))
    pcm = mx.array(np.random.default_rng(0).standard_normal((1, 1, 1920 * 6)).astype(np.float32) * 0.3)
    codes = plain.encode(pcm)
    np.testing.assert_array_equal(np.array(fast.encode(pcm)), np.array(codes))
    np.testing.assert_array_equal(np.array(fast.decode(codes)), np.array(plain.decode(codes)))
    # streaming (which applies the layout itself) gives the batch codes
    linear1 = [m.encoder_transformer.layers[0].linear1.weight for m in (plain, fast)]
    assert linear1[0] is not linear1[1]  # the reference kept its own arrays
    state = fast.init_state(1)
    streamed = [fast.encode_step(pcm[:, :, i * 1920:(i + 1) * 1920], state) for i in range(6)]
    np.testing.assert_array_equal(np.array(mx.concatenate(streamed, axis=2)), np.array(codes))


def test_layout_is_idempotent():
    model = _random_mimi()
    model.matmul_layout()
    first = model.encoder_transformer.layers[0].linear1.weight
    model.matmul_layout()
    assert model.encoder_transformer.layers[0].linear1.weight is first
