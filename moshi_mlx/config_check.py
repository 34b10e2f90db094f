"""Checking a raw config dict (config.json, a checkpoint's config) against a config dataclass before
it is built: every value must have its field's declared type and lie in its range, or a ConfigError
names the file, the key, the value and what is expected. Driven by the dataclass's own annotations,
so fields added later are covered without edits here.

Types understood: int, float, str, bool, dict, tuple[int, ...] (a JSON list), and `X | None`
(null allowed). Other annotations are not checked. Ranges: integers must be >= 0 (any integer for
names ending in `_id`), floats finite and >= 0, list elements likewise; names matching one of the
caller's `positive` suffixes (`dim` matches `dim` and `depformer_dim`) must be > 0.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing

from .errors import ConfigError

# Moshi LM fields (moshi_mlx.lm.config.LmConfig) that must be > 0, by name or name suffix.
LM_POSITIVE = ("dim", "num_heads", "context", "card", "card_out", "dim_feedforward", "max_period",
               "hidden_scale")
# ... except these, whose 0 means "none" (STT's end-of-turn heads are absent from most models)
LM_ZERO_ALLOWED = ("extra_heads_num_heads",)


def check_config(cls, data: dict, source: str, positive: tuple[str, ...] = (),
                 zero_allowed: tuple[str, ...] = ()) -> None:
    """Raise ConfigError listing every value of `data` that does not fit its field of `cls`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object of settings, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    problems = []
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        name, value = f.name, data[f.name]
        strictly_positive = name not in zero_allowed and any(name == s or name.endswith("_" + s)
                                                             for s in positive)
        expected = _problem(hints[name], value, strictly_positive, name.endswith("_id"))
        if expected:
            problems.append(f"key {name!r} is {_show(value)}: expected {expected}")
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))


def _problem(hint, value, positive: bool, any_sign: bool) -> str | None:
    """None when `value` fits the annotation `hint`, else what was expected (words)."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return None
        if len(options) != 1:
            return None  # unions of several types: not checked here
        wanted = _problem(options[0], value, positive, any_sign)
        return wanted and (wanted + (" or null" if len(options) < len(args) else ""))
    if typing.get_origin(hint) is tuple:
        item = args[0] if args else None
        if not isinstance(value, (list, tuple)) or (
                item is not None and any(_problem(item, v, positive, any_sign) for v in value)):
            return "a list of " + _words(item, positive, any_sign, plural=True)
        return None
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint in (int, float):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = number and (isinstance(value, int) or (hint is float and math.isfinite(value)))
        ok = ok and (any_sign or (value > 0 if positive else value >= 0))
        return None if ok else _words(hint, positive, any_sign)
    if hint is str:
        return None if isinstance(value, str) else "a string"
    if hint is dict:
        return None if isinstance(value, dict) else "a JSON object"
    return None


def _words(hint, positive: bool, any_sign: bool, plural: bool = False) -> str:
    what = {int: "integer", float: "number", str: "string", bool: "boolean"}.get(hint, "value")
    bound = "" if any_sign or hint not in (int, float) else (" > 0" if positive else " >= 0")
    if plural:
        return f"{what}s{bound}"
    return f"{'an' if what[0] in 'aeiou' else 'a'} {what}{bound}"


def check_lm_config(cls, data: dict, source: str) -> None:
    """check_config for the Moshi LM config (the hook at the top of LmConfig.from_dict), and the
    sections every kind keeps beside it (stt_config, lm_gen_config, tts_config, quantization)."""
    check_config(cls, data, source, positive=LM_POSITIVE, zero_allowed=LM_ZERO_ALLOWED)
    if isinstance(data, dict):
        check_sections(data, source)


# The settings sections of config.json, by kind: their known keys, typed like any config field.
@dataclasses.dataclass
class SttSection:
    audio_delay_seconds: float
    audio_silence_prefix_seconds: float


@dataclasses.dataclass
class GenSection:  # Kyutai's LMGen arguments
    temp: float
    temp_text: float
    top_k: int
    top_k_text: int
    cfg_coef: float


@dataclasses.dataclass
class TtsSection:
    audio_delay: float
    second_stream_ahead: int
    max_speakers: int
    default_voice: str
    multistream: bool


@dataclasses.dataclass
class QuantSection:  # mlx-lm's "quantization" entry
    bits: int
    group_size: int


SECTIONS = {"stt_config": (SttSection, ()), "lm_gen_config": (GenSection, ("top_k", "top_k_text")),
            "tts_config": (TtsSection, ("max_speakers",))}
QUANT_BITS, QUANT_GROUPS = (2, 3, 4, 5, 6, 8), (32, 64, 128)


def check_sections(data: dict, source: str) -> None:
    """ConfigError naming the file, the section.key and what is expected, for a bad value in one
    of config.json's settings sections."""
    for name, (cls, positive) in SECTIONS.items():
        section = data.get(name)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: key {name!r} is {_show(section)}: expected a JSON object")
        check_config(cls, section, f"{source}: {name}", positive=positive)
    check_quantization(data.get("quantization", None), source)


def check_quantization(q, source: str, key: str = "quantization") -> None:
    """`quantization`: null/false (none) or {"bits", "group_size", per-module overrides}."""
    if q is None or q is False:
        return
    if not isinstance(q, dict):
        raise ConfigError(f"{source}: key {key!r} is {_show(q)}: expected a JSON object with bits and "
                          "group_size, or null")
    for name, value in q.items():
        if name in ("bits", "group_size"):
            choices = QUANT_BITS if name == "bits" else QUANT_GROUPS
            if isinstance(value, bool) or value not in choices:
                raise ConfigError(f"{source}: key '{key}.{name}' is {_show(value)}: expected one of "
                                  + ", ".join(map(str, choices)))
        elif name == "mode":
            if not isinstance(value, str):
                raise ConfigError(f"{source}: key '{key}.mode' is {_show(value)}: expected a string")
        elif value is not False:
            check_quantization(value, source, f"{key}.{name}")


def _show(value) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return "null" if value is None else (text if len(text) <= 40 else text[:37] + "...")
