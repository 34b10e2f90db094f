"""Model kinds: what a model does, learned from its config.json (`model_type`), never from its name.

Kyutai's family shares one architecture but not one use: Moshi converses, STT transcribes, Hibiki
translates, TTS reads aloud, PersonaPlex converses with a persona. Every command and every app mode
accepts some kinds and refuses the others with a message that says what to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .errors import MoshiError


class ModelKindError(MoshiError):
    """A model of one kind was given to a command or mode made for another."""

    error_kind = "model_kind"


@dataclass(frozen=True)
class ModelKind:
    name: str  # the config.json `model_type` value
    label: str  # what it does, for people
    commands: tuple[str, ...]  # `python -m moshi_mlx` sub-commands that run it
    mode: str  # the desktop app's mode id
    mode_label: str
    demo: str  # the `--model` spec of its tiny random demo model


KINDS: dict[str, ModelKind] = {k.name: k for k in (
    ModelKind("moshi", "speech-to-speech conversation", ("chat", "run", "serve"), "talk", "Talk", "demo"),
    ModelKind("personaplex", "conversation with a voice and role prompt (persona)",
              ("chat", "run", "serve"), "talk", "Talk", "demo-personaplex"),
    ModelKind("stt", "speech to text", ("transcribe", "listen"), "transcribe", "Transcribe", "demo-stt"),
    ModelKind("hibiki", "speech translation", ("translate",), "translate", "Translate", "demo-hibiki"),
    ModelKind("tts", "text to speech", ("say",), "read", "Read aloud", "demo-tts"),
)}

DEFAULT_KIND = "moshi"  # Kyutai's Moshi 7B repos ship no config.json


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


def check_kind(config: Mapping, accepted: Iterable[str], model: str, used_by: str) -> ModelKind:
    """The model's kind if `used_by` (a command such as `chat`, or an app mode's label) accepts it;
    otherwise ModelKindError naming the model, what it is, and what to use instead."""
    kind = kind_of(config, f"{model}: config.json")
    accepted = tuple(accepted)
    if kind.name in accepted:
        return kind
    commands = " or ".join(f"`python -m moshi_mlx {c}`" for c in kind.commands)
    wanted = " or ".join(KINDS[a].label for a in accepted if a in KINDS)
    raise ModelKindError(f"{model} is a {kind.label} model (model_type {kind.name!r}); {used_by} "
                         f"needs a {wanted} model. Use it with {commands}, or in the app's "
                         f"{kind.mode_label} mode.")
