"""Converted folders load with the engine's loader (moshi_mlx.lm.load_lm) and run: unquantized gives
the same weights and tokens as loading the PyTorch file directly; q4/q8 equal in-memory quantization."""

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from moshi_mlx.lm import LmGen, load_lm, make_sampler, quantize_lm
from moshi_quantize.convert import convert


def _params(model):
    return dict(tree_flatten(model.parameters()))


def _run(model, frames=10, seed=7):
    gen = LmGen(model, make_sampler(0.7, top_k=25), make_sampler(0.8, top_k=250), seed=seed)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(frames):
        step = gen.step(rng.integers(0, model.config.card, size=model.config.user_codebooks))
        if step is not None:
            out.append((step.text_token, step.audio_codes.tolist()))
    return out


def test_unquantized_load_equals_pytorch_file(release_folder, out_parent):
    src, _ = release_folder
    convert(str(src), out_parent / "bf16")
    direct = load_lm(src)  # Kyutai's PyTorch release file, translated at load
    converted = load_lm(out_parent / "bf16")
    a, b = _params(direct), _params(converted)
    assert set(a) == set(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and mx.array_equal(a[name], b[name]).item(), name
    tokens = _run(converted)
    assert len(tokens) == 10 - direct.config.max_delay
    assert tokens == _run(direct)


@pytest.mark.parametrize("bits,group", [(4, 32), (8, 64)])
def test_quantized_outputs_load_and_run(release_folder, out_parent, bits, group):
    src, _ = release_folder
    convert(str(src), out_parent / f"q{bits}", bits=bits)
    model = load_lm(out_parent / f"q{bits}", dtype=mx.bfloat16)
    reference = load_lm(src, dtype=mx.bfloat16)
    quantize_lm(reference, bits, group)  # the runtime's in-memory quantization
    a, b = _params(model), _params(reference)
    assert set(a) == set(b) and any(k.endswith(".scales") for k in a)
    for name in a:
        assert mx.array_equal(a[name], b[name]).item(), name
    tokens = _run(load_lm(out_parent / f"q{bits}"))
    c = model.config
    assert len(tokens) == 10 - c.max_delay
    assert all(0 <= t < c.text_out_vocab and all(0 <= x < c.card for x in codes) for t, codes in tokens)


def test_widths_the_group_size_does_not_divide_stay_float(tmp_path, out_parent):
    from moshi_mlx.lm import LmConfig
    from tests.quantize.checkpoints import write_release_folder

    config = LmConfig.tiny()  # gated hidden 176 (temporal) and 88 (depformer): not multiples of 32
    src = tmp_path / "tiny"
    write_release_folder(src, config)
    summary = convert(str(src), out_parent / "q4", bits=4)
    q = summary.quantization
    assert q["transformer.layers.0.gating.linear_out"] is False
    assert q["depformer.slices.5.transformer.layers.1.gating.linear_out"] is False
    assert "transformer.layers.0.gating.linear_in" not in q  # its input width (dim 64) divides
    assert summary.float_weights == config.num_layers + config.dep_q * config.depformer_num_layers
    model = load_lm(out_parent / "q4")
    assert len(_run(model, frames=4)) == 4 - config.max_delay
