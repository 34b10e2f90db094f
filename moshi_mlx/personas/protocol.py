"""PersonaPlex's prompt phase as tokens (NVIDIA/personaplex `LMGen.step_system_prompts`; facts in
shared/SPEC.md "NVIDIA PersonaPlex 7B").

Before the user speaks, the model is fed, one call per 80 ms frame, with outputs discarded:
  1. the voice prompt: text PAD, Moshi's streams = the voice's Mimi codes, the user's = a sine;
  2. a 0.5 s spacer: text PAD, Moshi = silence, user = sine;
  3. the role text "<system> ... <system>", one token per frame, Moshi = silence, user = sine
     (skipped when there is no role);
  4. another 0.5 s spacer.
Each call *gives* the tokens of all 17 streams; stream k's token of call j lands at position
j + delays[k], and a position p <= delays[k] holds the initial token instead (so the voice's first
frame is dropped, as in the fork). This module turns the calls into the temporal input of every
prompt position; prompt.py feeds them to the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..lm.delays import UNGENERATED

# Codes of Mimi (the release weights, 8 codebooks) for a 440 Hz sine and for silence: the fork's
# SINE_TOKENS and SILENCE_TOKENS. Models with another codec (the demo) record theirs in config.json
# "lm_gen_config" as "sine_tokens" / "silence_tokens".
SINE_TOKENS = (430, 1268, 381, 1611, 1095, 1495, 56, 472)
SILENCE_TOKENS = (948, 243, 1178, 546, 1736, 1030, 1978, 2008)
SPACER_SECONDS = 0.5
SYSTEM_TAG = "<system>"


def wrap_role(text: str) -> str:
    """The role prompt as the model was trained on it: "<system> text <system>" (kept as is when
    already wrapped; the tag is plain text for the tokenizer)."""
    cleaned = text.strip()
    if cleaned.startswith(SYSTEM_TAG) and cleaned.endswith(SYSTEM_TAG):
        return cleaned
    return f"{SYSTEM_TAG} {cleaned} {SYSTEM_TAG}"


@dataclass(frozen=True)
class Streams:
    """What the prompt needs to know about a model's stream layout."""

    delays: tuple[int, ...]  # per stream: text, Moshi's codebooks, the user's
    initial: tuple[int, ...]  # the initial token of each stream
    moshi: int  # Moshi's codebooks (the generated ones); the user's follow
    text_pad: int
    sine: tuple[int, ...]
    silence: tuple[int, ...]
    spacer_frames: int

    @classmethod
    def of(cls, config, frame_rate: float = 12.5) -> "Streams":
        from ..errors import ConfigError

        moshi = config.n_q // 2
        gen = (config.extra.get("lm_gen_config") or {}) if isinstance(config.extra, dict) else {}
        sine = tuple(int(t) for t in gen.get("sine_tokens", SINE_TOKENS))
        silence = tuple(int(t) for t in gen.get("silence_tokens", SILENCE_TOKENS))
        for name, codes in (("sine_tokens", sine), ("silence_tokens", silence)):
            if len(codes) < moshi or min(codes) < 0 or max(codes) >= config.card:
                raise ConfigError(f"{name} {list(codes)}: need {moshi} codes in [0, {config.card}) "
                                  "(config.json lm_gen_config)")
        initial = (config.text_initial_token,) + (config.audio_initial_token,) * config.n_q
        return cls(tuple(config.delays), initial, moshi, config.existing_text_padding_id,
                   sine[:moshi], silence[:moshi], int(SPACER_SECONDS * frame_rate))


def prompt_calls(streams: Streams, voice_codes: np.ndarray, role_tokens) -> np.ndarray:
    """The tokens given at each prompt call, [N, 1 + n_q]: text, Moshi's codebooks, the user's.
    `voice_codes` [T, moshi] (UNGENERATED where a stored voice keeps only embeddings)."""
    s = streams
    user = np.array(s.sine, np.int64)  # the user's streams: as many as Moshi's

    def call(text: int, moshi) -> np.ndarray:
        return np.concatenate([[text], moshi, user]).astype(np.int64)

    spacer = [call(s.text_pad, s.silence)] * s.spacer_frames
    voice = [call(s.text_pad, frame) for frame in np.asarray(voice_codes, np.int64).reshape(-1, s.moshi)]
    role = [call(int(t), s.silence) for t in role_tokens]
    return np.stack(voice + spacer + role + spacer)


def prompt_positions(streams: Streams, calls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows [N, 1 + n_q], next [1 + n_q]): the temporal input of prompt positions 0..N-1, and the
    tokens the prompt already fixes at position N (its delayed streams; UNGENERATED elsewhere)."""
    n = len(calls)
    delays = np.array(streams.delays)
    initial = np.array(streams.initial, np.int64)
    rows = np.empty((n, len(delays)), np.int64)
    for p in range(n):
        source = p - delays  # the call whose token lands at position p, per stream
        rows[p] = np.where(p <= delays, initial, calls[np.maximum(source, 0), np.arange(len(delays))])
    nxt = np.full(len(delays), UNGENERATED, np.int64)
    late = n - delays
    ok = (delays > 0) & (late >= 0)
    nxt[ok] = calls[late[ok], np.arange(len(delays))[ok]]
    return rows, nxt
