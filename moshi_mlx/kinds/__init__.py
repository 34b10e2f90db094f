"""Model kinds: what a model does, learned from its config.json (`model_type`), never from its name.

Kyutai's family shares one architecture but not one use: Moshi converses, STT transcribes, Hibiki
translates, TTS reads aloud, PersonaPlex converses with a persona. Each kind is one record in its own
small module (`moshi_mlx/kinds/<model_type>.py`, as mlx-lm finds `mlx_lm/models/<model_type>.py`):
its setup, LM fix-up, demo and architecture. Every command and every app mode accepts some kinds and
refuses the others with a message that says what to use instead.
"""

from __future__ import annotations

import importlib
from typing import Iterable, Mapping

from .base import DemoSpec, ModelKind, ModelKindError, import_object  # noqa: F401

NAMES = ("moshi", "personaplex", "stt", "hibiki", "tts", "moshivis")  # a new kind: its module + a name here
DEFAULT_KIND = "moshi"  # Kyutai's Moshi 7B repos ship no config.json


def _load(name: str) -> ModelKind:
    kind = importlib.import_module(f"{__name__}.{name}").KIND
    assert kind.name == name, f"moshi_mlx/kinds/{name}.py holds the record of {kind.name!r}"
    return kind


KINDS: dict[str, ModelKind] = {name: _load(name) for name in NAMES}


def kind_name(config: Mapping, source: str = "config.json") -> str:
    """The kind of a model from its config.json contents ({} when it has none: Moshi)."""
    value = config.get("model_type", DEFAULT_KIND) if config else DEFAULT_KIND
    if value is None:
        return DEFAULT_KIND
    if not isinstance(value, str) or value not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise ModelKindError(f"{source}: model_type {value!r} is not a kind this program runs "
                             f"(known: {known})")
    return value


def kind_of(config: Mapping, source: str = "config.json") -> ModelKind:
    return KINDS[kind_name(config, source)]


def demo_kind(spec: str) -> ModelKind | None:
    """The kind whose demo model `spec` names ("demo-stt", ...), or None."""
    return next((k for k in KINDS.values() if k.demo == spec), None)


def check_kind(config: Mapping, accepted: Iterable[str], model: str, used_by: str,
               app_modes: Mapping[str, str] | None = None) -> ModelKind:
    """The model's kind if `used_by` (a command such as `chat`, or an app mode's label) accepts it;
    otherwise ModelKindError naming the model, what it is, and what to use instead. The app passes
    `app_modes` (mode id -> its label) to name its mode too."""
    kind = kind_of(config, f"{model}: config.json")
    accepted = tuple(accepted)
    if kind.name in accepted:
        return kind
    commands = " or ".join(f"`python -m moshi_mlx {c}`" for c in kind.commands)
    wanted = " or ".join(KINDS[a].label for a in accepted if a in KINDS)
    where = f", or in the app's {app_modes[kind.mode]} mode" if app_modes and kind.mode in app_modes else ""
    raise ModelKindError(f"{model} is a {kind.label} model (model_type {kind.name!r}); {used_by} "
                         f"needs a {wanted} model. Use it with {commands}{where}.")
