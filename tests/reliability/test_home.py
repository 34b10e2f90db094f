"""Item 13: the project's home folder ($MOSHI_MLX_HOME) read-only or a file is one line saying so;
a damaged cached demo model is built again."""

from __future__ import annotations

import os
import shutil

import pytest

from .conftest import run_cli


def _encode(inputs, home, tmp_path):
    return run_cli({**inputs, "home": home}, ["encode", inputs["wav"], tmp_path / "c.npy", "--model", "demo"])


def test_home_that_is_a_file(inputs, tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    r = _encode(inputs, home, tmp_path)
    assert r.returncode == 2 and "is a file" in r.stderr and "MOSHI_MLX_HOME" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_read_only_home(inputs, tmp_path, read_only_folder):
    r = _encode(inputs, read_only_folder, tmp_path)
    assert r.returncode == 2 and "cannot write there" in r.stderr and "MOSHI_MLX_HOME" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_truncated_demo_model_is_built_again(inputs, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(inputs["home"] / "moshi-demo-v1", home / "moshi-demo-v1")
    weights = home / "moshi-demo-v1" / "tokenizer-demo-mimi.safetensors"
    size = weights.stat().st_size
    os.truncate(weights, size // 2)
    r = _encode(inputs, home, tmp_path)
    assert r.returncode == 0 and "damaged" in r.stderr and "building it again" in r.stderr, r.stderr
    assert weights.stat().st_size == size


@pytest.mark.parametrize("cut", [0, 5, 100])
def test_safetensors_problem(inputs, tmp_path, cut):
    from moshi_mlx.filecheck import safetensors_problem

    source = inputs["home"] / "moshi-demo-v1" / "model.safetensors"
    assert safetensors_problem(source) is None
    copy = tmp_path / "m.safetensors"
    copy.write_bytes(source.read_bytes()[:cut] if cut < 100 else source.read_bytes()[:-1])
    assert safetensors_problem(copy)
