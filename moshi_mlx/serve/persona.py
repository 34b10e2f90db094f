"""Personas over the network (PersonaPlex models): the server's own persona (`serve --voice/--role`,
or the app's Talk persona when it shares its model) and the one a client asks for in its URL.

NVIDIA's PersonaPlex clients open `/api/chat?voice_prompt=NATF2.pt&text_prompt=You are ...`: the
voice is a file name of the server's voice folder, the role plain text. Here the voice is the
file's stem looked up among the model's voices and the user's (never a path: a client must not
name files on this Mac); the role is wrapped in `<system>` tags as for `--role`. A parameter absent
or empty keeps the server's own. A model without personas (Moshi) ignores both, with a note.

`persona_from_query` checks the syntax (protocol.QueryError, HTTP 400); `check_persona` runs on the
MLX worker and builds the persona's prompt for this model (PersonaError, HTTP 400): the kept prompt
states (personas/prompt.py) then make every later conversation with it start without prefill."""

from __future__ import annotations

import re
from typing import Mapping

from .protocol import QueryError

QUERY_VOICE, QUERY_ROLE = "voice_prompt", "text_prompt"
MAX_ROLE_CHARS = 4000  # far more than a context's worth of tokens: the prompt check says the rest
VOICE_SUFFIXES = (".pt", ".safetensors")
_VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def persona_from_query(query: Mapping[str, str], default: Mapping[str, str] | None,
                       kind: str | None) -> tuple[dict, list[str]]:
    """(kind options of this conversation, notes for the log). `kind`: the served model's kind."""
    voice, role = query.get(QUERY_VOICE) or "", query.get(QUERY_ROLE) or ""
    if kind != "personaplex":
        notes = [f"{name}= ignored: this server's model ({kind or 'not loaded yet'}) takes no persona"
                 for name, value in ((QUERY_VOICE, voice), (QUERY_ROLE, role)) if value]
        return {}, notes
    persona = dict(default or {})
    if voice:
        persona["voice"] = voice_name(voice)
        persona["client_voice"] = True
    if role.strip():
        if len(role) > MAX_ROLE_CHARS:
            raise QueryError(f"query parameter {QUERY_ROLE}: {len(role)} characters, at most "
                             f"{MAX_ROLE_CHARS}")
        if any(ord(c) < 32 and c not in "\t\n\r" for c in role):
            raise QueryError(f"query parameter {QUERY_ROLE}: control characters are not allowed")
        persona["role"] = role.strip()
    return persona, []


def voice_name(value: str) -> str:
    """`NATF2.pt` (NVIDIA's clients) or `NATF2` -> NATF2; anything that could be a path is refused."""
    name = value.strip()
    for suffix in VOICE_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    if not _VOICE_NAME.match(name) or name.strip() != name or ".." in name:
        raise QueryError(f"query parameter {QUERY_VOICE}={value!r}: give a voice name such as "
                         "NATF2 (or NATF2.pt), not a path")
    return name


def check_persona(model, sampling, persona: dict) -> dict:
    """On the MLX worker: the kind options to run `persona` with on `model`, its voice found and
    its prompt built (so a bad one is refused before the conversation). Raises PersonaError."""
    from ..engine.setup import make_setup
    from ..errors import ConfigError
    from ..personas.stream import model_folder
    from ..personas.voices import VoiceError, list_voices

    if model.kind != "personaplex":
        raise ConfigError(f"{model.files.name} is a {model.kind} model, which takes no persona "
                          "(PersonaPlex models do)")
    options = {k: v for k, v in persona.items() if k != "client_voice"}
    if persona.get("client_voice"):
        voices = list_voices(model_folder(model))
        found = next((v for v in voices if persona["voice"] in (v.name, v.path.stem)), None)
        if found is None:
            names = ", ".join(sorted({v.name for v in voices})) or "none"
            raise VoiceError(f"unknown voice {persona['voice']!r}; this server has: {names}")
        options["voice"] = str(found.path)
    make_setup(model, sampling, options)  # resolves the voice, checks it and the prompt's length
    return options
