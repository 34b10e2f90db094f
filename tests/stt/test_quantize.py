"""`moshi-quantize` on Kyutai's STT checkpoints (PyTorch names, extra heads included): the 4/8-bit
MLX folders it writes load as STT models and transcribe close to the original."""

import json
import subprocess
import sys

import numpy as np
import pytest

from moshi_mlx.stt.loading import load_stt_model
from moshi_mlx.stt.transcriber import Transcriber


def run(folder, speech):
    tr = Transcriber(load_stt_model(str(folder), "the test"), keep_tokens=True)
    heads = []
    tr.frame_hook = lambda frame, token, probs: heads.append(probs)
    tr.push(speech)
    tr.flush()
    return tr, tr.tokens(), heads


@pytest.mark.parametrize("bits", [8, 4])
def test_stt_checkpoint_converts_and_runs(stt_models, speech, tmp_path, bits):
    source, _, _ = stt_models("1b", "candle")
    out = tmp_path / f"stt-q{bits}"
    r = subprocess.run([sys.executable, "-m", "moshi_quantize", str(source), "-o", str(out), "--bits", str(bits)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "stt" and config["extra_heads_num_heads"] == 4
    assert config["stt_config"] == {"audio_delay_seconds": 0.5, "audio_silence_prefix_seconds": 0.0}
    assert config["lm_gen_config"]["temp_text"] == 0.0
    assert config["quantization"]["bits"] == bits and (out / f"model.q{bits}.safetensors").is_file()
    assert (out / config["mimi_name"]).is_file() and (out / config["tokenizer_name"]).is_file()

    original, expected, expected_heads = run(source, speech)
    tr, tokens, heads = run(out, speech)
    assert tr.has_end_of_turn and tr.settings == original.settings
    agree = float(np.mean(tokens == expected))
    gap = float(np.abs(np.stack(heads) - np.stack(expected_heads)).max())
    print(f"q{bits}: text tokens equal {agree:.0%}, extra heads within {gap:.3f}")
    assert agree >= (0.9 if bits == 8 else 0.5) and gap < (0.05 if bits == 8 else 0.3)


def test_kyutai_mlx_quantized_file_named_by_its_bits(stt_models, tmp_path):
    """A -mlx folder whose weights are `model.q4.safetensors` (Kyutai's MLX naming) and whose
    config.json says nothing of quantization loads as 4 bits, group 32, weight for weight."""
    import shutil

    import mlx.core as mx
    import mlx.nn as nn
    from mlx.utils import tree_flatten

    from moshi_mlx.lm import quantize_lm

    from moshi_mlx.lm import Lm, LmConfig

    from .checkpoints import MIMI_NAME, kyutai_config

    source, _, _ = stt_models("1b", "mlx")
    folder = tmp_path / "stt-mlx-q4"
    folder.mkdir()
    config = kyutai_config("1b", heads=True) | {"dim": 128}  # every width a multiple of 32
    (folder / "config.json").write_text(json.dumps(config))
    for name in (MIMI_NAME, config["tokenizer_name"]):
        shutil.copyfile(source / name, folder / name)
    mx.random.seed(5)
    model = Lm(LmConfig.from_dict(config))
    quantize_lm(model, 4, 32)
    expected = dict(tree_flatten(model.parameters()))
    mx.save_safetensors(str(folder / "model.q4.safetensors"), expected)
    loaded = load_stt_model(str(folder), "the test")
    assert isinstance(loaded.lm.extra_heads[2], nn.QuantizedLinear)
    got = dict(tree_flatten(loaded.lm.parameters()))
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(np.array(got[name]), np.array(value), err_msg=name)
