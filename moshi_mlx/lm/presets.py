"""The released models' LM configurations (Kyutai's config.json `lm_kwargs`), for benchmarks and
shape checks where the real files cannot be downloaded. A model folder's own config.json always
wins; nothing here is used to guess a model's kind or shape from its name. The data is releases.py."""

from __future__ import annotations

from .config import LmConfig
from .releases import PRESETS, kind_architecture  # noqa: F401


def preset(name: str) -> LmConfig:
    """The LmConfig of a released model by its preset name (see PRESETS)."""
    from ..errors import ConfigError

    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}: use one of {', '.join(PRESETS)}")
    return LmConfig.from_dict(PRESETS[name], source=f"preset {name}")
