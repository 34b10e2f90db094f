"""moshi-quantize on a MoshiVis checkpoint in Kyutai's PyTorch names (the reference's tiny file):
float conversion changes nothing; 4-bit quantizes the LM (shared cross-attention included) and
keeps the image tower and projection float."""

import json

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from moshi_mlx.vis.lm import image_source
from moshi_mlx.vis.loading import load_vis_lm
from moshi_quantize.convert import convert

from .conftest import DATA
from .test_parity import greedy_tokens


def _convert(tmp_path, demo_models, bits):
    demo = demo_models.folder("demo-vis")
    out = tmp_path / f"q{bits}"
    convert(None, out, bits=bits, dtype="fp32", lm_file=DATA / "model.safetensors",
            mimi_file=demo / "tokenizer-demo-mimi.safetensors", tokenizer_file=demo / "tokenizer-demo.model",
            config_file=DATA / "tiny_config.json")
    return out


@pytest.fixture(scope="module")
def ref():
    return mx.load(str(DATA / "reference.safetensors")), json.loads((DATA / "tiny_config.json").read_text())


def test_float_conversion_changes_nothing(tmp_path, demo_models, ref):
    data, tiny = ref
    out = _convert(tmp_path, demo_models, None)
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "moshivis" and config["vision_config"]["image_size"] == 42
    lm = load_vis_lm(out, mx.float32)
    got = greedy_tokens(lm, np.array(data["user_codes"]), image_source(lm, data["pixels"]), tiny["xa_start"])
    np.testing.assert_array_equal(got, np.array(data["tokens_image"]))


def test_q4_keeps_the_image_tower_float(tmp_path, demo_models, ref):
    data, _ = ref
    out = _convert(tmp_path, demo_models, 4)
    lm = load_vis_lm(out, mx.float32)
    assert isinstance(lm.transformer.cross_attention.q_proj, nn.QuantizedLinear)
    assert isinstance(lm.transformer.layers[0].self_attn.in_proj, nn.QuantizedLinear)
    assert not any(isinstance(m, nn.QuantizedLinear) for _, m in lm.image.named_modules())
    np.testing.assert_allclose(np.array(image_source(lm, data["pixels"])), np.array(data["cross_src"]), atol=1e-5)
    tokens = greedy_tokens(lm, np.array(data["user_codes"]), image_source(lm, data["pixels"]), 4)
    assert tokens.shape == np.array(data["tokens_image"]).shape


def test_verify_compares_a_converted_moshivis(tmp_path, demo_models):
    from moshi_quantize.verify import verify

    out = _convert(tmp_path, demo_models, 4)
    report = verify(out, DATA / "model.safetensors", frames=6)
    assert 0 <= report.text_agreement <= 1


def test_release_folder_without_config_is_recognised(tmp_path):
    from moshi_mlx.vis.loading import folder_config

    (tmp_path / "model.safetensors").symlink_to(DATA / "model.safetensors")
    assert folder_config(tmp_path)["model_type"] == "moshivis"
    (tmp_path / "other").mkdir()
    assert folder_config(tmp_path / "other") is None
