"""Full-precision linears laid out for one-row steps (lm/linear.py) and Mimi's kept [1, rows, out]
matrices (its convolutions and codebooks): the same values bit for bit as nn.Linear's path, one
graph node instead of four, one copy for tied weights, and nn.Linear's path again once a weight is
replaced."""

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten
import pytest

from moshi_mlx.bench.graph_nodes import graph_nodes
from moshi_mlx.lm.linear import Linear, prepare_linears
from moshi_mlx.mimi.conv import StreamingConv1d, StreamingConvTranspose1d
from moshi_mlx.mimi.quantizer import Codebook


def _nodes(fn, x) -> int:
    return sum(graph_nodes(mx.compile(fn)(x)).values())


@pytest.mark.parametrize("shape", [(1, 1, 64), (1, 7, 48), (2, 1, 64), (2, 5, 48)])
@pytest.mark.parametrize("bias", [False, True])
def test_prepared_linear_gives_nn_linears_values(shape, bias):
    layer = Linear(shape[-1], 96, bias=bias)
    if bias:
        layer.bias = mx.random.normal((96,), key=mx.random.key(3))
    mx.eval(layer.parameters())
    x = mx.random.normal(shape, key=mx.random.key(1))
    plain = np.array(nn.Linear.__call__(layer, x))
    before = _nodes(layer, x)
    prepare_linears(layer)
    assert layer.weight.shape == (96, shape[-1])
    np.testing.assert_array_equal(np.array(layer(x)), plain)
    np.testing.assert_array_equal(np.array(mx.compile(layer)(x)), plain)
    after = _nodes(layer, x)
    if shape[0] == 1 and not bias:
        assert (before, after) == (4, 1)
    else:
        assert after == before  # more rows, or a bias: nn.Linear's path


def test_tied_weights_keep_one_layout_and_a_replaced_weight_falls_back():
    model = nn.Module()
    model.a, model.b = Linear(32, 16, bias=False), Linear(32, 16, bias=False)
    model.b.weight = model.a.weight  # tied, as the depformer's shared steps are
    prepare_linears(model)
    assert model.a.weight is model.b.weight and model.a._rows() is model.b._rows()
    prepare_linears(model)  # idempotent
    assert model.a.weight is model.b.weight
    x = mx.random.normal((1, 1, 32), key=mx.random.key(0))
    new = mx.random.normal((16, 32), key=mx.random.key(2))
    model.a.weight = new
    assert model.a._rows() is None
    np.testing.assert_array_equal(np.array(model.a(x)), np.array(x @ new.T))


def _conv_pair(kind):
    if kind == "conv":
        conv = StreamingConv1d(6, 10, kernel_size=7, stride=2)
        conv.weight = mx.random.normal(conv.weight.shape, key=mx.random.key(4))
        conv.bias = mx.random.normal((10,), key=mx.random.key(5))
        return conv, conv.prepare_taps, 6
    conv = StreamingConvTranspose1d(6, 10, kernel_size=4, stride=2)
    conv.weight = mx.random.normal(conv.weight.shape, key=mx.random.key(4))
    return conv, conv.prepare_matrix, 6


@pytest.mark.parametrize("kind", ["conv", "transposed"])
@pytest.mark.parametrize("batch", [1, 2])
def test_mimi_convolutions_keep_their_values_with_the_kept_matrix(kind, batch):
    conv, prepare, channels = _conv_pair(kind)
    x = mx.random.normal((batch, 8, channels), key=mx.random.key(6))
    state = conv.init_state(batch)
    plain = [np.array(a) for _, a in tree_flatten(conv.step(x, state))]
    before = _nodes(lambda x: conv.step(x, state)[0], x)
    prepare()
    kept = [np.array(a) for _, a in tree_flatten(conv.step(x, state))]
    assert len(kept) == 2
    after = _nodes(lambda x: conv.step(x, state)[0], x)
    assert after < before if batch == 1 else after <= before
    for a, b in zip(plain, kept):
        np.testing.assert_array_equal(a, b)


def test_codebook_nearest_centroids_unchanged_by_the_kept_rows():
    book = Codebook(64, 16)
    book.embedding = mx.random.normal((64, 16), key=mx.random.key(7))
    x = mx.random.normal((1, 9, 16), key=mx.random.key(8))
    plain = np.array(book.encode(x))
    assert book.prepare_rows() and book.prepare_rows() == []
    assert book.embedding.shape == (64, 16)
    np.testing.assert_array_equal(np.array(book.encode(x)), plain)
    codes = mx.array(plain)
    np.testing.assert_array_equal(np.array(book.decode(codes)), np.array(mx.take(book.embedding, codes, axis=0)))
