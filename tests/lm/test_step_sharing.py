"""Depformer steps that share a weight set (Kyutai's TTS schedule) hold one copy once loaded or
quantized, and compute exactly what separate copies compute."""

import json
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten

from moshi_mlx.lm import Lm, LmConfig, load_lm, quantize_lm
from moshi_mlx.lm.step_sharing import shared_step_prefixes, tie_step_weights, tied_step_parts, unique_nbytes

from .reference import pytorch_lm, save_release

# 8 steps, 5 weight sets: steps 4..7 share set 4 (transformer and linear_in)
CONFIG = LmConfig.tiny(dim=64, num_heads=4, depformer_dim=64, depformer_num_heads=4, depformer_dim_feedforward=128,
                       n_q=8, dep_q=8, delays=(0,) * 9, depformer_weights_per_step_schedule=(0, 1, 2, 3, 4, 4, 4, 4))


def _save(model, folder: Path, quantization=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_dict() | (
        {"quantization": quantization} if quantization else {})))
    mx.save_safetensors(str(folder / "model.safetensors"), dict(tree_flatten(model.parameters())))
    return folder


def _logits(model):
    rng = np.random.default_rng(0)
    out = mx.array(rng.standard_normal((1, 1, CONFIG.dim)).astype(np.float32))
    prev = mx.array(rng.integers(0, CONFIG.card, (1, CONFIG.dep_q)), dtype=mx.int32)
    return np.array(model.depformer_logits(out, prev))


def _shared(model) -> bool:
    s = model.depformer.slices
    return all(a is b for (_, a), (_, b) in zip(tree_flatten(s[5].transformer.parameters()),
                                                tree_flatten(s[4].transformer.parameters())))


def test_prefixes_follow_the_schedule():
    pairs = shared_step_prefixes(CONFIG)
    assert ("depformer.slices.7.transformer.", "depformer.slices.4.transformer.") in pairs
    assert ("depformer.slices.5.linear_in.", "depformer.slices.4.linear_in.") in pairs
    assert not any(p.startswith("depformer.slices.3.") for p, _ in pairs)
    assert shared_step_prefixes(LmConfig.tiny()) == []  # weights per step, no schedule: nothing shared


def test_pytorch_release_loads_one_copy_per_weight_set(tmp_path):
    path = save_release(pytorch_lm(CONFIG, seed=3), tmp_path / "model.safetensors")
    model = load_lm(path, config=CONFIG, dtype=mx.float32)
    assert _shared(model)
    arrays = [a for _, a in tree_flatten(model.parameters())]
    assert unique_nbytes(arrays) < sum(a.nbytes for a in arrays)
    # the same folder written back and loaded again: equal tensors found and shared again
    again = load_lm(_save(model, tmp_path / "ours"), dtype=mx.float32)
    assert _shared(again)
    np.testing.assert_array_equal(_logits(model), _logits(again))


def test_unequal_steps_stay_separate_and_exact(tmp_path):
    mx.random.seed(1)
    model = Lm(CONFIG)  # random: steps 4..7 differ although the schedule says they share
    mx.eval(model.parameters())
    loaded = load_lm(_save(model, tmp_path / "f"), dtype=mx.float32)
    assert not _shared(loaded)
    np.testing.assert_array_equal(_logits(model), _logits(loaded))


def test_quantizing_keeps_steps_shared(tmp_path):
    mx.random.seed(2)
    model = Lm(CONFIG)
    tie_step_weights(model)
    assert len(tied_step_parts(model)) == len(shared_step_prefixes(CONFIG))
    q = quantize_lm(model, 4, 32)
    assert _shared(model)
    loaded = load_lm(_save(model, tmp_path / "q", q), dtype=mx.float32)
    assert _shared(loaded)
    np.testing.assert_array_equal(_logits(model), _logits(loaded))
