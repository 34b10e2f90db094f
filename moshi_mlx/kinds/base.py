"""One record per model kind: what it does, how it is set up and fixed up after loading, its demo
model and its architecture when config.json holds metadata only. Records hold plain values and
"module:name" paths, imported only when used (a kind's module is never imported to read its record)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import MoshiError


class ModelKindError(MoshiError):
    """A model of one kind was given to a command or mode made for another."""

    error_kind = "model_kind"


@dataclass(frozen=True)
class DemoSpec:
    """A kind's demo model: its tiny LM (LmConfig.tiny overrides), the config.json metadata that
    makes it that kind (model_type, stt_config, ...), and how many codebooks its Mimi has.
    `extras(folder, lm_config)` ("module:function" or a callable) may add files (voices, ...) before
    config.json is written; it returns more config.json entries."""

    lm: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    mimi_codebooks: int = 8
    extras: str | Callable[[Path, object], dict] | None = None
    version: int = 1


@dataclass(frozen=True)
class ModelKind:
    name: str  # the config.json `model_type` value
    label: str  # what it does, for people
    commands: tuple[str, ...]  # `python -m moshi_mlx` sub-commands that run it
    mode: str  # the activity its sessions record in their metadata (the app's modes use these ids)
    demo: str  # the `--model` spec of its tiny random demo model
    demo_spec: DemoSpec = DemoSpec()
    setup: str | None = None  # "module:Class", a StreamSetup subclass (engine/setup.py); None: default
    lm_fixup: str | None = None  # "module:function(lm)" run on a freshly loaded LM
    architecture: str | None = None  # lm/presets.py name used when config.json holds metadata only
    lm_loader: str | None = None  # "module:function(path) -> Lm" when lm.load_lm cannot build it (MoshiVis)


def import_object(path: str) -> Any:
    """The object named by "package.module:name"."""
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)
