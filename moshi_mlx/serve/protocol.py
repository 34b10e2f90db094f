"""Kyutai's websocket protocol at `/api/chat`, as its clients speak it (moshi 0.2.13 and its web UI).

Every websocket message is binary; its first byte is the kind:

- 0 handshake: the server sends `b"\\x00"` once it has a clean conversation ready; clients wait for
  it before streaming.
- 1 audio: an Ogg Opus stream (24 kHz mono), one stream per direction and per connection, sent as
  whole Ogg pages (`sphn.OpusStreamWriter` output).
- 2 text: a UTF-8 piece of Moshi's words (SentencePiece's word marker replaced by a space).
- 5 error: a UTF-8 message (defined by Kyutai's web UI; its Python client ignores unknown kinds).

Kyutai's web UI sends its sampling settings as query parameters of the websocket URL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping

from ..engine.core import Sampling
from ..errors import MoshiError

HANDSHAKE = 0
AUDIO = 1
TEXT = 2
ERROR = 5

# What Kyutai's web UI puts in the websocket URL (client/src/pages/Conversation/Conversation.tsx).
WEB_CLIENT_PARAMS = ("text_temperature", "text_topk", "audio_temperature", "audio_topk", "pad_mult",
                     "text_seed", "audio_seed", "repetition_penalty_context", "repetition_penalty")
# Those our engine has no use for, with the value that means "off" (anything else is reported).
UNSUPPORTED_NEUTRAL = {"pad_mult": 0.0, "repetition_penalty": 1.0, "repetition_penalty_context": None}
MAX_TEMPERATURE = 5.0
MAX_TOP_K = 1 << 20
SEED_BITS = 63


class QueryError(MoshiError):
    """A query parameter of the websocket URL has a value the server cannot use (HTTP 400)."""


def handshake() -> bytes:
    return bytes([HANDSHAKE])


def audio_message(ogg_bytes: bytes) -> bytes:
    return bytes([AUDIO]) + ogg_bytes


def text_message(text: str) -> bytes:
    return bytes([TEXT]) + text.encode("utf-8")


def error_message(text: str) -> bytes:
    return bytes([ERROR]) + text.encode("utf-8")


@dataclass(frozen=True)
class ChatParams:
    sampling: Sampling
    notes: list[str] = field(default_factory=list)  # parameters given but not supported


def _number(query: Mapping[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise QueryError(f"query parameter {name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise QueryError(f"query parameter {name}={raw!r} is not a finite number")
    return value


def _integer(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    value = _number(query, name)
    if value is None:
        return None
    if value != int(value) or not low <= value <= high:
        raise QueryError(f"query parameter {name}={query[name]!r}: expected a whole number from "
                         f"{low} to {high}")
    return int(value)


def _temperature(query: Mapping[str, str], name: str) -> float | None:
    value = _number(query, name)
    if value is not None and not 0.0 <= value <= MAX_TEMPERATURE:
        raise QueryError(f"query parameter {name}={query[name]!r}: expected a temperature from 0 "
                         f"to {MAX_TEMPERATURE:g}")
    return value


def params_from_query(query: Mapping[str, str], default: Sampling) -> ChatParams:
    """The sampling of one conversation: the server's defaults, overridden by the URL's parameters
    (Kyutai's names `text_temperature`, `text_topk`, `audio_temperature`, `audio_topk`,
    `text_seed`/`audio_seed`, and our `seed`). Raises QueryError for unusable values."""
    changes: dict = {}
    for ours, theirs in (("text_temperature", "text_temperature"),
                         ("audio_temperature", "audio_temperature")):
        value = _temperature(query, theirs)
        if value is not None:
            changes[ours] = value
    for ours, theirs in (("text_top_k", "text_topk"), ("audio_top_k", "audio_topk")):
        value = _integer(query, theirs, 1, MAX_TOP_K)
        if value is not None:
            changes[ours] = value
    seed = _integer(query, "seed", 0, 2**SEED_BITS - 1)
    if seed is None:
        # Kyutai's server draws text and audio from two generators; ours has one key: both count.
        text_seed = _integer(query, "text_seed", 0, 2**31 - 1)
        audio_seed = _integer(query, "audio_seed", 0, 2**31 - 1)
        if text_seed is not None or audio_seed is not None:
            seed = ((text_seed or 0) << 31) | (audio_seed or 0)
    if seed is not None:
        changes["seed"] = seed
    notes = []
    for name, neutral in UNSUPPORTED_NEUTRAL.items():
        value = _number(query, name)
        if value is not None and neutral is not None and value != neutral:
            notes.append(f"{name}={query[name]} is not supported by this engine: ignored")
    return ChatParams(replace(default, **changes), notes)
