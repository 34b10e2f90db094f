"""Every streamable layer: feeding a signal chunk by chunk gives what one batch call gives. Plus the
transformer's streaming semantics past its context against the PyTorch reference."""

import mlx.core as mx
import numpy as np
import pytest
import torch

from moshi_mlx.mimi import Mimi, MimiConfig
from moshi_mlx.mimi.conv import StreamingConv1d, StreamingConvTranspose1d
from moshi_mlx.mimi.seanet import SeanetDecoder, SeanetEncoder
from moshi_mlx.mimi.transformer import Transformer


def _randomize(module, seed=0):
    from mlx.utils import tree_flatten

    rng = np.random.default_rng(seed)
    params = [(k, mx.array(rng.standard_normal(v.shape).astype(np.float32) / np.sqrt(max(1, v.shape[-1]))))
              for k, v in tree_flatten(module.parameters())]
    module.load_weights(params)
    return module


def _chunked(layer, x, chunk):
    state, outs = layer.init_state(x.shape[0]), []
    for i in range(0, x.shape[1], chunk):
        y, state = layer.step(x[:, i:i + chunk], state)
        outs.append(y)
    return mx.concatenate(outs, axis=1)


def _signal(b, t, c, seed=1):
    return mx.array(np.random.default_rng(seed).standard_normal((b, t, c)).astype(np.float32))


@pytest.mark.parametrize("kernel,stride,dilation,pad_mode", [
    (7, 1, 1, "constant"), (3, 1, 2, "constant"), (1, 1, 1, "constant"), (8, 4, 1, "constant"),
    (16, 8, 1, "constant"), (4, 2, 1, "replicate"), (5, 5, 1, "replicate"), (3, 1, 1, "replicate"),
])
@pytest.mark.parametrize("chunk_steps", [1, 2, 5])
def test_conv1d_chunked_equals_batch(kernel, stride, dilation, pad_mode, chunk_steps):
    conv = _randomize(StreamingConv1d(6, 5, kernel, stride, dilation, pad_mode=pad_mode))
    x = _signal(3, 20 * stride, 6)
    full = conv(x)
    assert full.shape == (3, 20, 5)
    np.testing.assert_allclose(np.array(_chunked(conv, x, chunk_steps * stride)), np.array(full),
                               atol=1e-5)
    # Against torch's Conv1d on the causally padded input.
    xt = torch.from_numpy(np.array(x)).transpose(1, 2)
    pad = (kernel - 1) * dilation + 1 - stride
    xt = torch.nn.functional.pad(xt, (pad, 0), mode="replicate" if pad_mode == "replicate" else "constant")
    w_t = torch.from_numpy(np.array(conv.weight).transpose(2, 1, 0).copy())  # ours [k, in, out] -> [out, in, k]
    ref = torch.nn.functional.conv1d(xt, w_t, torch.from_numpy(np.array(conv.bias)), stride=stride,
                                     dilation=dilation)
    np.testing.assert_allclose(np.array(full), ref.transpose(1, 2).numpy(), atol=1e-5)


@pytest.mark.parametrize("kernel,stride", [(4, 2), (8, 4), (16, 8), (5, 2), (3, 3), (1, 1)])
@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("chunk", [1, 3])
def test_conv_transpose_chunked_equals_batch_and_reference(kernel, stride, depthwise, chunk):
    c = 4
    conv = _randomize(StreamingConvTranspose1d(c, c, kernel, stride, groups=c if depthwise else 1))
    x = _signal(2, 12, c)
    full = conv(x)
    assert full.shape == (2, 12 * stride, c)
    np.testing.assert_allclose(np.array(_chunked(conv, x, chunk)), np.array(full), atol=1e-5)
    # Against torch's ConvTranspose1d, trimmed on the right as the causal reference does.
    w = np.array(conv.weight)
    w_t = w.T[:, None, :] if depthwise else w.transpose(0, 2, 1)  # ours -> torch [in, out/groups, k]
    ref = torch.nn.functional.conv_transpose1d(
        torch.from_numpy(np.array(x)).transpose(1, 2), torch.from_numpy(w_t.copy()),
        torch.from_numpy(np.array(conv.bias)), stride=stride, groups=c if depthwise else 1)
    ref = ref[..., : 12 * stride].transpose(1, 2).numpy()
    np.testing.assert_allclose(np.array(full), ref, atol=1e-5)


def test_seanet_encoder_decoder_chunked_equals_batch():
    cfg = MimiConfig.tiny()
    enc, dec = _randomize(SeanetEncoder(cfg), 2), _randomize(SeanetDecoder(cfg), 3)
    x = _signal(2, 6 * cfg.hop_length, 1) * 0.3
    z = enc(x)
    assert z.shape == (2, 6, cfg.dimension)
    np.testing.assert_allclose(np.array(_chunked(enc, x, cfg.hop_length)), np.array(z), atol=1e-4)
    np.testing.assert_allclose(np.array(_chunked(enc, x, 3 * cfg.hop_length)), np.array(z), atol=1e-4)
    y = dec(z)
    assert y.shape == x.shape
    np.testing.assert_allclose(np.array(_chunked(dec, z, 1)), np.array(y), atol=1e-4)


def test_transformer_chunked_equals_batch_within_context():
    cfg = MimiConfig.tiny()  # context 10
    tr = _randomize(Transformer(cfg), 4)
    x = _signal(2, cfg.context, cfg.dimension)
    full = tr(x)
    for chunk in (1, 2, 5):
        np.testing.assert_allclose(np.array(_chunked(tr, x, chunk)), np.array(full), atol=1e-4)


def test_transformer_batch_mask_is_causal_and_windowed():
    cfg = MimiConfig.tiny()
    tr = _randomize(Transformer(cfg), 5)
    x = _signal(1, 3 * cfg.context, cfg.dimension)
    full = np.array(tr(x))
    # The future never leaks into the past.
    x2 = mx.concatenate([x[:, :20], _signal(1, x.shape[1] - 20, cfg.dimension, seed=9)], axis=1)
    np.testing.assert_allclose(np.array(tr(x2))[:, :20], full[:, :20], atol=1e-5)
    # Nothing older than the context window reaches the present (8 layers x 10 steps of reach here
    # is 2 layers x 9 steps: position 25 depends on positions >= 25 - 2 * 9 = 7 only).
    x3 = mx.concatenate([_signal(1, 7, cfg.dimension, seed=8), x[:, 7:]], axis=1)
    np.testing.assert_allclose(np.array(tr(x3))[:, 25:], full[:, 25:], atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 2])
def test_transformer_streaming_past_context_matches_reference(chunk):
    """The reference's ring KV cache semantics for 100 positions through a context of 10."""
    from moshi.modules.transformer import ProjectedTransformer

    cfg = MimiConfig.tiny()
    kw = cfg.to_reference_dict()["transformer"]
    ref = ProjectedTransformer(**{**kw, "conv_layout": False}).eval()
    tr = Transformer(cfg)
    tr.load_weights([(k.replace("transformer.", "", 1).replace("in_projs.0.", "in_proj.")
                      .replace("out_projs.0.", "out_proj."), mx.array(v.numpy()))
                     for k, v in ref.state_dict().items()])
    # layer_scale 0.01 would hide attention errors: make the updates count.
    with torch.no_grad():
        for layer in ref.transformer.layers:
            layer.layer_scale_1.scale.fill_(1.0)
            layer.layer_scale_2.scale.fill_(1.0)
    tr.load_weights([(f"layers.{i}.layer_scale_{j}.scale", mx.ones((cfg.dimension,)))
                     for i in range(cfg.num_layers) for j in (1, 2)], strict=False)
    x = np.random.default_rng(6).standard_normal((2, 100, cfg.dimension)).astype(np.float32)
    with torch.no_grad(), ref.streaming(2):
        expected = torch.cat([ref(torch.from_numpy(x[:, i:i + chunk]))[0]
                              for i in range(0, 100, chunk)], 1).numpy()
    ours = np.array(_chunked(tr, mx.array(x), chunk))
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_long_stream_state_has_constant_size():
    cfg = MimiConfig.tiny()
    model = _randomize(Mimi(cfg, num_codebooks=8), 7)
    state = model.init_state(1)

    def sizes():
        from mlx.utils import tree_flatten
        return [(k, v.shape) for k, v in tree_flatten([state.encoder, state.decoder])]

    before = sizes()
    frame = mx.zeros((1, 1, 1920))
    for _ in range(30):  # 60 positions: 6x the tiny context
        codes = model.encode_step(frame, state)
        model.decode_step(codes, state)
    assert sizes() == before
    assert state.frames_encoded == state.frames_decoded == 30
    assert float(state.encoder[1]["offset"]) == 60
    state.reset()
    assert float(state.encoder[1]["offset"]) == 0 and state.frames_encoded == 0


def test_batch_attention_in_query_blocks_equals_one_block():
    cfg = MimiConfig.tiny()
    attn = _randomize(Transformer(cfg), 10).layers[0].self_attn
    x = _signal(2, 45, cfg.dimension)
    whole = np.array(attn(x, block=1000))
    for block in (1, 7, 16):
        np.testing.assert_allclose(np.array(attn(x, block=block)), whole, atol=1e-5)


def test_transformer_streaming_hours_into_a_stream_matches_reference():
    """One hour into a stream (90,000 positions at 25 Hz): same window and positions as the reference."""
    from moshi.modules.transformer import ProjectedTransformer, StreamingMultiheadAttention

    cfg = MimiConfig.tiny()
    ref = ProjectedTransformer(**{**cfg.to_reference_dict()["transformer"], "conv_layout": False}).eval()
    with torch.no_grad():
        for layer in ref.transformer.layers:
            layer.layer_scale_1.scale.fill_(1.0)
    tr = Transformer(cfg)
    tr.load_weights([(k.replace("transformer.", "", 1).replace("in_projs.0.", "in_proj.")
                      .replace("out_projs.0.", "out_proj."), mx.array(v.numpy()))
                     for k, v in ref.state_dict().items()])
    start = 90_000
    x = np.random.default_rng(11).standard_normal((1, 30, cfg.dimension)).astype(np.float32)
    with torch.no_grad(), ref.streaming(1):
        ref.transformer._streaming_state.offsets[:] = start
        for m in ref.modules():
            if isinstance(m, StreamingMultiheadAttention):
                m._streaming_state.offset[:] = start
                m._streaming_state.offset_cpu = start
                m._streaming_state.kv_cache.end_offset[:] = start
        expected = torch.cat([ref(torch.from_numpy(x[:, i:i + 2]))[0] for i in range(0, 30, 2)], 1).numpy()
    state = tr.init_state(1)
    state["offset"] = mx.array(float(start))  # the (zero) window then counts as past positions, as there
    outs = []
    for i in range(0, 30, 2):
        y, state = tr.step(mx.array(x[:, i:i + 2]), state)
        outs.append(np.array(y))
    np.testing.assert_allclose(np.concatenate(outs, 1), expected, atol=1e-4)
