"""Item 9: every settings key of every kind's config.json is checked when the config is read, the
error naming the file, the key and what is expected."""

from __future__ import annotations

import json
import math

import pytest

from moshi_mlx.errors import ConfigError
from moshi_mlx.lm.config import LmConfig

CASES = [
    ("demo-stt", "stt_config", "audio_delay_seconds", math.inf, "a number >= 0"),
    ("demo-stt", "stt_config", "audio_delay_seconds", "soon", "a number >= 0"),
    ("demo-stt", "lm_gen_config", "temp_text", math.nan, "a number >= 0"),
    ("demo-stt", "lm_gen_config", "top_k_text", 0, "an integer > 0"),
    ("demo-hibiki", "lm_gen_config", "temp", math.nan, "a number >= 0"),
    ("demo-tts", "tts_config", "audio_delay", "hot", "a number >= 0"),
    ("demo-tts", "tts_config", "audio_delay", -3, "a number >= 0"),
    ("demo-tts", "tts_config", "second_stream_ahead", -50, "an integer >= 0"),
    ("demo-tts", "tts_config", "max_speakers", "many", "an integer > 0"),
    ("demo", "quantization", "bits", 7, "one of 2, 3, 4, 5, 6, 8"),
    ("demo", "quantization", "group_size", 0, "one of 32, 64, 128"),
    ("demo", None, "quantization", "yes", "a JSON object"),
    ("demo-tts", None, "tts_config", [1], "a JSON object"),
]


@pytest.mark.parametrize("kind,section,key,value,expected", CASES,
                         ids=[f"{c[0]}-{c[1]}.{c[2]}={c[3]!r}" for c in CASES])
def test_bad_values_name_the_file_and_key(kind, section, key, value, expected, inputs, tmp_path):
    from moshi_mlx.demo import demo_model_dir

    config = json.loads((demo_model_dir(inputs["home"], kind) / "config.json").read_text())
    if section is None:
        config[key] = value
    else:
        config.setdefault(section, {"bits": 4, "group_size": 32} if section == "quantization" else {})
        config[section][key] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as e:
        LmConfig.from_json(path)
    message = str(e.value)
    assert str(path) in message and key in message and expected in message, message
    if section:
        assert section in message


@pytest.mark.parametrize("kind", ["demo", "demo-stt", "demo-tts", "demo-hibiki", "demo-personaplex"])
def test_every_demo_config_passes(kind, inputs):
    from moshi_mlx.demo import demo_model_dir

    LmConfig.from_json(demo_model_dir(inputs["home"], kind) / "config.json")
