"""Loading release checkpoints: translation in one place, its inverse, and clear errors."""

import json

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten
from safetensors.numpy import save_file

from moshi_mlx.errors import CheckpointError, ConfigError
from moshi_mlx.mimi import Mimi, MimiConfig, export_release_format, find_mimi_file, load_mimi
from moshi_mlx.mimi.weights import translate_release

TINY = MimiConfig.tiny()


def _release(path):
    return {k: np.array(v) for k, v in mx.load(str(path)).items()}


def _save(tmp_path, weights, name="bad.safetensors"):
    path = tmp_path / name
    save_file(weights, str(path))
    return path


def test_export_then_load_changes_nothing(tiny_checkpoint, tmp_path):
    model = load_mimi(tiny_checkpoint, config=TINY)
    exported = export_release_format(model)
    assert set(exported) == set(_release(tiny_checkpoint))  # the same release names
    path = tmp_path / "again.safetensors"
    mx.save_safetensors(str(path), exported)
    again = load_mimi(path, config=TINY)
    for (k, a), (k2, b) in zip(tree_flatten(model.parameters()), tree_flatten(again.parameters())):
        assert k == k2
        np.testing.assert_array_equal(np.array(a), np.array(b), err_msg=k)


def test_codebook_embedding_uses_clamped_usage(tiny_checkpoint):
    w = _release(tiny_checkpoint)
    prefix = "quantizer.rvq_first.vq.layers.0._codebook."
    ours = translate_release({k: mx.array(v) for k, v in w.items()})
    emb = np.array(ours["quantizer.rvq_first.layers.0.embedding"])
    expected = w[prefix + "embedding_sum"] / np.maximum(w[prefix + "cluster_usage"], 1e-5)[:, None]
    np.testing.assert_allclose(emb, expected, rtol=1e-6)


def test_missing_key_is_named(tiny_checkpoint, tmp_path):
    w = _release(tiny_checkpoint)
    del w["decoder.model.0.conv.conv.bias"]
    with pytest.raises(CheckpointError, match=r"missing keys decoder\.model\.0\.bias"):
        load_mimi(_save(tmp_path, w), config=TINY)


def test_unexpected_key_is_named(tiny_checkpoint, tmp_path):
    w = _release(tiny_checkpoint)
    w["lm.text_emb.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(CheckpointError, match=r"not a Mimi checkpoint: unexpected keys lm\.text_emb\.weight"):
        load_mimi(_save(tmp_path, w), config=TINY)


def test_wrong_shape_is_named(tiny_checkpoint, tmp_path):
    w = _release(tiny_checkpoint)
    name = "encoder_transformer.transformer.layers.1.linear1.weight"
    w[name] = np.zeros((7, TINY.dimension), np.float32)
    with pytest.raises(CheckpointError, match=r"encoder_transformer\.layers\.1\.linear1\.weight has shape \(7, 32\)"):
        load_mimi(_save(tmp_path, w), config=TINY)


def test_tiny_file_with_release_config_is_refused(tiny_checkpoint):
    # The release config has 8 layers and 32 codebooks where the tiny file has 2 and 8.
    with pytest.raises(CheckpointError, match=r"does not match the Mimi config: missing keys .*\(\+\d+ more\)"):
        load_mimi(tiny_checkpoint)


def test_not_a_weights_file(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"this is not safetensors")
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        load_mimi(path, config=TINY)
    with pytest.raises(CheckpointError, match="not found"):
        load_mimi(tmp_path / "nope.safetensors", config=TINY)


def test_too_many_codebooks(tiny_checkpoint):
    with pytest.raises(CheckpointError, match="num_codebooks 9"):
        load_mimi(tiny_checkpoint, num_codebooks=9, config=TINY)


def test_find_mimi_file(tmp_path):
    with pytest.raises(CheckpointError, match="no Mimi weights"):
        find_mimi_file(tmp_path)
    (tmp_path / "tokenizer-e351c8d8-checkpoint125.safetensors").write_bytes(b"")
    assert find_mimi_file(tmp_path).name == "tokenizer-e351c8d8-checkpoint125.safetensors"
    (tmp_path / "config.json").write_text(json.dumps({"mimi_name": "codec.safetensors"}))
    with pytest.raises(CheckpointError, match="codec.safetensors"):
        find_mimi_file(tmp_path)
    (tmp_path / "codec.safetensors").write_bytes(b"")
    assert find_mimi_file(tmp_path).name == "codec.safetensors"
    with pytest.raises(CheckpointError, match="not found"):
        find_mimi_file(tmp_path / "missing")


def test_config_round_trip_and_errors():
    for cfg in (MimiConfig.moshi(), MimiConfig.tiny()):
        assert MimiConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert MimiConfig.moshi().frame_size == 1920 and MimiConfig.moshi().hop_length == 960
    with pytest.raises(ConfigError, match="unknown keys"):
        MimiConfig.from_dict({"dimenson": 3})
    with pytest.raises(ConfigError, match="heads"):
        MimiConfig(dimension=30, num_heads=4)


def test_release_parameter_count():
    model = Mimi(MimiConfig.moshi())
    n = sum(v.size for _, v in tree_flatten(model.parameters()))
    exported = sum(v.size for v in export_release_format(model).values())
    assert exported == 96_151_393  # the release file: 96.15M values incl. codebook buffers
    assert n < exported
