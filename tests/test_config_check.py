"""Config values of the wrong type or range: a ConfigError naming the file, the key and what is
expected, for the LM config, the Mimi config and any dataclass (fields added later included)."""

from dataclasses import dataclass

import pytest

from moshi_mlx.config_check import check_config
from moshi_mlx.errors import ConfigError
from moshi_mlx.lm.config import LmConfig
from moshi_mlx.mimi.config import MimiConfig


BAD_LM_VALUES = [  # the first five are the issue's
    ({"delays": ["x"]}, "key 'delays' is ['x']: expected a list of integers >= 0"),
    ({"delays": 5}, "key 'delays' is 5: expected a list of integers >= 0"),
    ({"num_heads": 0}, "key 'num_heads' is 0: expected an integer > 0"),
    ({"dim": "big"}, "key 'dim' is \"big\": expected an integer > 0"),
    ({"dim": None}, "key 'dim' is null: expected an integer > 0"),
    ({"dim": 64.0}, "key 'dim' is 64.0: expected an integer > 0"),
    ({"hidden_scale": float("inf")}, "key 'hidden_scale' is inf: expected a number > 0"),
    ({"depformer_dim_feedforward": [1, 2]}, "expected an integer > 0 or null"),
    ({"depformer_multi_linear": 1}, "key 'depformer_multi_linear' is 1: expected true or false"),
    ({"norm": 3}, "key 'norm' is 3: expected a string"),
    # the family's fields
    ({"kv_repeat": 0}, "kv_repeat=0 must be >= 1 and divide the number of heads (4)"),
    ({"kv_repeat": 3}, "kv_repeat=3 must be >= 1 and divide the number of heads (4)"),
    ({"conditioners": [1]}, "key 'conditioners' is [1]: expected a JSON object"),
    ({"conditioners": {"x": {"type": "lut"}}}, "conditioners.x.lut: needs a positive integer 'dim'"),
    ({"positional_embedding": "sin"}, "positional_embedding='sin' is not one of"),
    ({"extra_heads_num_heads": -1}, "key 'extra_heads_num_heads' is -1: expected an integer >= 0"),
]


@pytest.mark.parametrize("change, expected", BAD_LM_VALUES)
def test_lm_config_values(change, expected):
    base = LmConfig.tiny().to_dict(with_extra=False)
    with pytest.raises(ConfigError) as info:
        LmConfig.from_dict({**base, **change}, source="/models/x/config.json")
    assert str(info.value).startswith("/models/x/config.json: ") and expected in str(info.value)


def test_valid_values_pass():
    base = LmConfig.tiny().to_dict(with_extra=False)
    assert LmConfig.from_dict({**base, "extra_heads_num_heads": 0, "kv_repeat": 2}).num_kv_heads == 2
    assert LmConfig.from_dict({**base, "text_card_out": None, "max_period": 10000}).max_period == 10000
    assert MimiConfig.from_dict(MimiConfig.tiny().to_dict()) == MimiConfig.tiny()


def test_mimi_config_values():
    with pytest.raises(ConfigError, match="^cfg.json: key 'ratios' is \\[8, 0\\]: expected a list of integers > 0"):
        MimiConfig.from_dict({"ratios": [8, 0]}, source="cfg.json")
    with pytest.raises(ConfigError, match="key 'frame_rate' is 0: expected a number > 0; key 'n_q'"):
        MimiConfig.from_dict({"frame_rate": 0, "n_q": "x"}, source="cfg.json")


def test_any_dataclass_is_checked_from_its_annotations():
    @dataclass
    class Later:  # e.g. a field the LM config gains later
        num_text_streams: int = 1
        pad_token_id: int = 0
        speaker_scales: tuple[float, ...] = (1.0,)
        label: str | None = None

    check_config(Later, {"num_text_streams": 2, "pad_token_id": -1, "speaker_scales": [0.5]}, "f")
    with pytest.raises(ConfigError, match="'num_text_streams' is -1: expected an integer >= 0; "
                                          "key 'speaker_scales' is \\['a'\\]: expected a list of numbers >= 0; "
                                          "key 'label' is 3: expected a string or null"):
        check_config(Later, {"num_text_streams": -1, "speaker_scales": ["a"], "label": 3}, "f")
