"""Item 10: weights with NaN or infinite values are refused at load, naming the tensor; NaN audio is
never written."""

from __future__ import annotations

import shutil

import mlx.core as mx
import numpy as np
import pytest

from .conftest import run_cli


def _damaged_copy(inputs, tmp_path, file_name: str, pick) -> tuple:
    source = inputs["home"] / "moshi-demo-v1"
    folder = tmp_path / "model"
    shutil.copytree(source, folder)
    weights = dict(mx.load(str(folder / file_name)))
    name = pick(sorted(weights))
    value = np.array(weights[name]).copy()
    value.flat[0] = np.nan
    weights[name] = mx.array(value)
    mx.save_safetensors(str(folder / file_name), weights)
    return folder, name


@pytest.mark.parametrize("file_name,pick", [
    ("tokenizer-demo-mimi.safetensors", lambda names: [n for n in names if n.endswith("weight")][0]),
    ("model.safetensors", lambda names: [n for n in names if "text_linear" in n][0]),
])
def test_nan_weights_are_refused_naming_the_tensor(file_name, pick, inputs, tmp_path):
    folder, name = _damaged_copy(inputs, tmp_path, file_name, pick)
    out = tmp_path / "out.wav"
    r = run_cli(inputs, ["run", "--model", folder, "--input", inputs["wav"], "--output", out, "--quiet"])
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "NaN" in r.stderr and file_name in r.stderr and name.split(".")[-2] in r.stderr, r.stderr
    assert not out.exists()


def test_nan_audio_is_never_written(tmp_path):
    from moshi_mlx.audio_io import WavWriter
    from moshi_mlx.errors import MoshiError
    from moshi_mlx.outputs import OutputSet

    with pytest.raises(MoshiError, match="NaN"):
        with OutputSet() as outputs:
            with WavWriter(outputs.add(tmp_path / "o.wav", "--output")) as wav:
                wav.write(np.array([0.0, np.nan], np.float32))
            outputs.commit()
    assert list(tmp_path.iterdir()) == []
