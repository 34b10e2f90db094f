"""moshi-quantize on Hibiki checkpoints (PyTorch release form with config.json and the
description conditioner): 4 and 8 bits, conditioners kept in float, and the result translates."""

import json

import mlx.core as mx
import numpy as np
import pytest

from moshi_mlx.engine.core import FrameEngine, Sampling
from moshi_mlx.engine.loader import load_model
from moshi_mlx.hibiki.translator import FileTranslator, pcm_frames
from moshi_mlx.hub import folder_files

from .models import EOS


@pytest.mark.parametrize("layout,bits", [("hibiki_2b", 4), ("zero", 8)])
def test_converted_hibiki_loads_and_translates(hibiki_models, tmp_path, layout, bits):
    from moshi_quantize.convert import convert

    folder, pt, _ = hibiki_models(layout)
    summary = convert(str(folder), tmp_path / "out", bits=bits)
    out = tmp_path / "out"
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "hibiki" and config["quantization"]["bits"] == bits
    assert config["conditioners"] == json.loads((folder / "config.json").read_text())["conditioners"]
    weights = mx.load(str(out / summary.model_file))
    conditioner = [k for k in weights if k.startswith("condition_provider.")]
    assert bool(conditioner) == (layout != "zero")
    for key in conditioner:  # never quantized
        assert not key.endswith((".scales", ".biases")) and weights[key].dtype != mx.uint32
    assert "text_emb.scales" in weights

    model = load_model(folder_files(out))
    assert model.kind == "hibiki"
    parts = model.lm.text_emb.parameters()
    for name in ("weight", "scales", "biases"):  # the fix-up works on the quantized table too
        np.testing.assert_array_equal(np.array(parts[name][EOS]), np.array(parts[name][3]))
    core = FrameEngine(model, Sampling.greedy(), {"cfg_coef": 3.0 if layout != "zero" else 1.0})
    pcm = (0.1 * np.sin(np.arange(6 * 1920) / 7.0)).astype(np.float32)
    audio = []
    result = FileTranslator(core, 0.4).run(pcm_frames(pcm, 1920), 6, audio.append)
    assert result.frames_in == 6 and len(audio) == result.frames_out >= 6
    assert np.isfinite(np.concatenate(audio)).all()
    assert result.token_array(1 + model.lm.config.dep_q).shape == (1 + model.lm.config.dep_q, len(audio))
