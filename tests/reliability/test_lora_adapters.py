"""Item 14: moshi-quantize --lora blames the adapter, not the healthy base, and refuses adapters
that would merge silently wrong."""

from __future__ import annotations

import json
import math

import pytest
from safetensors.numpy import save_file

from moshi_mlx.errors import CheckpointError, ConfigError
from tests.quantize.test_lora import LAYOUTS, adapted, bases, write_adapter  # noqa: F401 (fixture)


def _convert(bases, lora, out):
    from moshi_quantize.convert import convert

    return convert(str(bases / "moshi"), out, lora=lora)


@pytest.fixture(scope="module")
def adapter():
    return adapted(LAYOUTS["moshi"], False)[0]


def test_nan_adapter_names_the_adapter(bases, adapter, tmp_path):
    bad = {k: v.clone() for k, v in adapter.items()}
    first = sorted(bad)[0]
    bad[first].view(-1)[0] = math.nan
    lora = write_adapter(tmp_path / "nan", bad)
    with pytest.raises(CheckpointError) as e:
        _convert(bases, lora, tmp_path / "out")
    assert str(lora) in str(e.value) and first in str(e.value) and "NaN" in str(e.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key,value,expected", [
    ("lora_scaling", math.nan, "finite number"), ("lora_scaling", math.inf, "finite number"),
    ("lora_rank", 4.7, "an integer >= 1"), ("lora_rank", True, "an integer >= 1")])
def test_bad_lora_config_values(bases, adapter, tmp_path, key, value, expected):
    lora = write_adapter(tmp_path / "a", adapter)
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    config[key] = value
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=f"{key}.*{expected}"):
        _convert(bases, lora, tmp_path / "out")


def test_an_empty_adapter_is_refused(bases, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    save_file({}, str(folder / "lora.safetensors"))
    (folder / "config.json").write_text(json.dumps({"lora_rank": 4, "lora_scaling": 2.0}))
    with pytest.raises(CheckpointError, match="holds no tensors"):
        _convert(bases, folder / "lora.safetensors", tmp_path / "out")


def test_a_missing_adapter_says_so(bases, tmp_path):
    with pytest.raises(CheckpointError, match="no such LoRA adapter file"):
        _convert(bases, tmp_path / "nope.safetensors", tmp_path / "out")
