"""The three checkpoint forms, quantized models, and bad files named in the errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from moshi_mlx.errors import CheckpointError, ConfigError
from moshi_mlx.lm import LmConfig, load_lm, quantize_lm, sanitize
from moshi_mlx.lm.loading import resolve_checkpoint

from .reference import pytorch_lm, save_release

REPO = Path(__file__).resolve().parents[2]
KYUTAI_MLX = REPO / ".venv" / "kyutai-moshi-mlx"
# every input width divisible by 64: q4/g32 and q8/g64 quantize every Linear and Embedding
CONFIG = LmConfig.tiny(dim=256, num_heads=4, depformer_dim=128, depformer_num_heads=4,
                       depformer_dim_feedforward=384)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    pt = pytorch_lm(CONFIG, seed=2)
    return save_release(pt, tmp_path_factory.mktemp("pt") / "model.safetensors")


def _probe(model, steps=24, seed=0):
    """Teacher-forced logits on a fixed input: text [steps, V] and audio [steps, dep_q, card]."""
    rng = np.random.default_rng(seed)
    kv = model.make_cache(1, mx.float32)
    texts, audios = [], []
    for t in range(steps):
        tokens = np.concatenate([rng.integers(0, CONFIG.text_card, 1), rng.integers(0, CONFIG.card, 16)])
        prev = np.concatenate([rng.integers(0, CONFIG.text_card, 1), rng.integers(0, CONFIG.card, 7)])
        out, text, kv = model.temporal(mx.array(tokens[None], dtype=mx.int32), kv, mx.array(t, dtype=mx.int32))
        audio = model.depformer_logits(out, mx.array(prev[None], dtype=mx.int32))
        texts.append(np.array(text[0]))
        audios.append(np.array(audio[0]))
    return np.stack(texts), np.stack(audios)


def _save_folder(model, folder: Path, quantization=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model.config.to_dict() | ({"quantization": quantization} if quantization else {})
    (folder / "config.json").write_text(json.dumps(cfg))
    mx.save_safetensors(str(folder / "model.safetensors"), dict(tree_flatten(model.parameters())))
    return folder


def test_pytorch_release_file_and_our_folder_agree(release, tmp_path):
    a = load_lm(release, config=CONFIG, dtype=mx.float32)  # form (a): translated at load
    folder = _save_folder(a, tmp_path / "ours")  # form (c): convert, then load
    b = load_lm(folder, dtype=mx.float32)
    assert b.config == CONFIG
    for x, y in zip(_probe(a, 6), _probe(b, 6)):
        np.testing.assert_array_equal(x, y)
    # sanitize is idempotent: our names pass through unchanged
    flat = dict(tree_flatten(a.parameters()))
    assert sanitize(flat, CONFIG).keys() == flat.keys()


def _kyutai_quantized_file(release: Path, out: Path, bits: int, group: int) -> Path:
    """A checkpoint written by Kyutai's own moshi_mlx 0.3.0 (their names, their quantization)."""
    script = f"""
import json, mlx.core as mx, mlx.nn as nn
from mlx.utils import tree_flatten
from moshi_mlx.models import lm
cfg = lm.LmConfig.from_config_dict(json.loads({json.dumps(json.dumps(CONFIG.pytorch_kwargs()))}))
model = lm.Lm(cfg)
model.load_pytorch_weights({str(release)!r}, cfg, strict=True)
nn.quantize(model, bits={bits}, group_size={group})
mx.save_safetensors({str(out)!r}, dict(tree_flatten(model.parameters())))
"""
    if not (KYUTAI_MLX / "moshi_mlx").is_dir():
        pytest.fail(f"Kyutai's moshi-mlx is not installed in {KYUTAI_MLX} (run `make setup`)")
    env = dict(os.environ, PYTHONPATH=str(KYUTAI_MLX))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd="/")
    return out


@pytest.mark.slow
def test_kyutai_mlx_q4_file_and_quantized_agreement(release, tmp_path, capsys):
    """Form (b): Kyutai's q4 file as it is (no config.json: quantization from the file name);
    q4/g32 and q8/g64 agree with the unquantized model on most top-1 tokens."""
    full = load_lm(release, config=CONFIG, dtype=mx.float32)
    ref_text, ref_audio = _probe(full)
    folder = tmp_path / "moshiko-mlx-q4"
    folder.mkdir()
    _kyutai_quantized_file(release, folder / "model.q4.safetensors", 4, 32)
    assert resolve_checkpoint(folder, CONFIG)[2] == {"group_size": 32, "bits": 4, "mode": "affine"}
    kyutai_q4 = load_lm(folder, config=CONFIG, dtype=mx.float32)

    ours = {}
    for bits, group in ((4, 32), (8, 64)):
        model = load_lm(release, config=CONFIG, dtype=mx.float32)
        q = quantize_lm(model, bits, group)
        assert not [k for k, v in q.items() if v is False], "every module should be quantized here"
        ours[bits] = load_lm(_save_folder(model, tmp_path / f"q{bits}", q), dtype=mx.float32)

    def agreement(model):
        text, audio = _probe(model)
        return ((text.argmax(-1) == ref_text.argmax(-1)).mean(),
                (audio.argmax(-1) == ref_audio.argmax(-1)).mean())

    results = {"kyutai q4/g32": agreement(kyutai_q4), "q4/g32": agreement(ours[4]),
               "q8/g64": agreement(ours[8])}
    with capsys.disabled():
        for name, (t, a) in results.items():
            print(f"\n  top-1 agreement with unquantized, {name}: text {t:.0%}, audio {a:.0%}", end="")
    # our q4 == Kyutai's q4 (same quantization of the same weights)
    for x, y in zip(_probe(kyutai_q4, 4), _probe(ours[4], 4)):
        np.testing.assert_allclose(x, y, atol=1e-4)
    assert min(results["q8/g64"]) >= 0.8
    assert min(results["q4/g32"]) >= 0.4  # chance level is 1/card = 2.5%


def test_bad_files_are_named(release, tmp_path):
    good = dict(tree_flatten(load_lm(release, config=CONFIG, dtype=mx.float32).parameters()))

    def broken(weights, name):
        folder = _save_folder_weights(weights, tmp_path / name)
        with pytest.raises(CheckpointError) as e:
            load_lm(folder, dtype=mx.float32)
        assert str(folder) in str(e.value)
        return str(e.value)

    missing = {k: v for k, v in good.items() if k != "depformer.slices.3.linear_in.weight"}
    assert "missing keys: depformer.slices.3.linear_in.weight" in broken(missing, "missing")
    extra = good | {"transformer.layers.9.norm1.weight": mx.ones((256,))}
    assert "unexpected keys: transformer.layers.9.norm1.weight" in broken(extra, "extra")
    shape = good | {"text_linear.weight": mx.zeros((5, 256))}
    assert "text_linear.weight: (5, 256) instead of (96, 256)" in broken(shape, "shape")

    garbage = tmp_path / "garbage" / "model.safetensors"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="garbage"):
        load_lm(garbage, config=CONFIG)
    with pytest.raises(CheckpointError, match="no such file"):
        load_lm(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no model weights"):
        load_lm(tmp_path / "empty")


def _save_folder_weights(weights, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(CONFIG.to_dict()))
    mx.save_safetensors(str(folder / "model.safetensors"), weights)
    return folder


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'dimension'"):
        LmConfig.from_dict({"dimension": 12})
    with pytest.raises(ConfigError, match="delays has 3 entries"):
        LmConfig.from_dict({"delays": [0, 1, 1]})
    with pytest.raises(ConfigError, match="layer_scale"):
        LmConfig.from_dict({"layer_scale": 0.1})
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"dim": 100, "num_heads": 3}))
    with pytest.raises(ConfigError, match=str(bad)):
        LmConfig.from_json(bad)
    seven = LmConfig.moshi_7b()
    assert (seven.hidden_dim, seven.depformer_hidden_dim) == (11264, 2816)
    assert LmConfig.from_dict(seven.to_dict()) == seven


@pytest.mark.parametrize("layout", ["7b", "stt", "hibiki_2b", "zero", "tts", "personaplex"])
def test_release_names_map_back_one_to_one(layout):
    """Every parameter we expect maps back to a key of Kyutai's release file, and every key of the
    file is named: error messages can always use the file's own names."""
    from moshi_mlx.lm.release_names import pytorch_name
    from moshi_mlx.lm.weights import expected_shapes

    from .layouts import LAYOUTS
    from .reference import release_state_dict

    config = CONFIG if layout == "7b" else LAYOUTS[layout]
    keys = set(release_state_dict(pytorch_lm(config)))
    assert {pytorch_name(n, config) for n in expected_shapes(config)} == keys


def test_missing_key_named_as_the_file_has_it(release, tmp_path):
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(release))
    del tensors["transformer.layers.1.norm1.alpha"]
    folder = tmp_path / "m"
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(CONFIG.to_dict()))
    with pytest.raises(CheckpointError, match=r"missing keys: transformer\.layers\.1\.norm1\.alpha$"):
        load_lm(folder)


def test_folder_without_config_that_is_not_the_7b_says_so_in_one_line(release, tmp_path):
    folder = tmp_path / "no-config"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(release.read_bytes())
    with pytest.raises(CheckpointError) as e:
        load_lm(folder)
    text = str(e.value)
    assert "no config.json" in text and "not Kyutai's Moshi 7B" in text and "config.json" in text
    assert "\n" not in text and len(text) < 600
