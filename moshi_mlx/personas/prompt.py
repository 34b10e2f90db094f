"""Running a persona's prompt on a generator, fast, and only once per persona.

The prompt of N calls (protocol.py) becomes: the voice's stored embeddings (if any) and the token
rows of positions up to N - 2 through the temporal transformer in one batched prefill, then the last
prompt call as a normal step, whose sampled text and first codebook open the conversation (the
reference samples them at that call too). The state before that last step (the written part of
the KV ring, the delay buffer, the offset) is kept on the model per persona: the next conversation
with the same persona restores it instead of prefilling, and only runs the last step, with its
own random key, so a restored start equals a fresh one token for token."""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from ..errors import PersonaError
from ..lm.delays import UNGENERATED
from .protocol import Streams, prompt_calls, prompt_positions, wrap_role
from .voices import Voice, check_voice

KEPT_PERSONAS = 8  # prompt states kept per model (each: the prompt's share of the KV ring)


class PromptError(PersonaError):
    """A prompt that cannot run: too long for the context, ..."""


@dataclass(frozen=True)
class Persona:
    voice: Voice | None  # None: no voice prompt (the spacers and the role only)
    role: str = ""  # the role text, without the <system> tags ("" = no role prompt)

    def key(self) -> tuple:
        return (self.voice.fingerprint() if self.voice else "", self.role.strip())


@dataclass(frozen=True)
class Prompt:
    """The prompt of one persona for one model, ready to feed."""

    rows: np.ndarray  # [N, 1 + n_q] temporal inputs of positions 0..N-1
    next: np.ndarray  # [1 + n_q] tokens the prompt fixes at position N (UNGENERATED elsewhere)
    user: np.ndarray  # the user streams' tokens of the last call (the sine)
    embeddings: object | None  # [E, dim] replayed for positions 0..E-1 instead of rows[:E]

    @property
    def frames(self) -> int:
        return len(self.rows)


def role_tokens(tokenizer, role: str) -> list[int]:
    return [] if not role.strip() else list(tokenizer.encode(wrap_role(role)))


def build_prompt(config, tokenizer, persona: Persona) -> Prompt:
    streams = Streams.of(config)
    voice = persona.voice
    if voice is not None:
        check_voice(voice, config, streams.moshi)
    codes = voice.codes if voice is not None else np.zeros((0, streams.moshi), np.int64)
    tokens = role_tokens(tokenizer, persona.role)
    n = len(codes) + 2 * streams.spacer_frames + len(tokens)
    limit = config.context // 2
    if n > limit:
        raise PromptError(
            f"the persona prompt takes {n} frames (voice {len(codes)}, role text "
            f"{len(tokens)} tokens, spacers {2 * streams.spacer_frames}); this model allows at most "
            f"{limit} (half of its {config.context}-frame context, {limit / 12.5:.0f} s): "
            "shorten the role text or use a shorter voice")
    calls = prompt_calls(streams, np.where(codes < 0, UNGENERATED, codes), tokens)
    rows, nxt = prompt_positions(streams, calls)
    return Prompt(rows, nxt, calls[-1, 1 + streams.moshi:], voice.embeddings if voice else None)


@dataclass(frozen=True)
class PromptState:
    """A generator's state after a prompt's prefill, before its last call (compact: only the ring
    slots the prompt wrote)."""

    kv: list  # per layer keys/values [rows, heads, N - 1, head_dim]
    offset: int
    tokens: np.ndarray
    fixed: np.ndarray


def prompt_states(lm) -> collections.OrderedDict:
    """The prompt states kept on a model (least recently used first), shared by its conversations."""
    states = getattr(lm, "_persona_states", None)
    if states is None:
        states = collections.OrderedDict()
        object.__setattr__(lm, "_persona_states", states)
    return states


def _prefill(gen, prompt: Prompt) -> None:
    stored = 0
    if prompt.embeddings is not None:
        stored = prompt.embeddings.shape[0]
        gen.prefill(embeddings=prompt.embeddings)
    if prompt.frames - 1 > stored:
        gen.prefill(prompt.rows[stored:-1])
    gen.provide(prompt.frames - 1, prompt.rows[-1])
    gen.provide(prompt.frames, prompt.next)


def _restore(gen, state: PromptState) -> None:
    import mlx.core as mx

    from ..lm.generate import GenState
    from ..lm.transformer import ring_write

    fresh = gen.snapshot()  # after reset(): zero ring, this conversation's random key
    kv = [ring_write(ring, part, 0) for ring, part in zip(fresh.kv, state.kv)]
    del fresh
    mx.eval(kv)
    gen.restore(GenState(kv, state.offset, state.tokens, state.fixed, gen.snapshot().key))


def run_prompt(gen, prompt: Prompt, key: tuple | None = None, batched: bool = True) -> bool:
    """Feed `prompt` to `gen` (just reset): restored from the model's kept state for `key` when
    there is one, else prefilled (batched, or frame by frame for comparison) and kept. Then the
    last call. Returns True when the state was restored."""
    import mlx.core as mx

    states = prompt_states(gen.model)
    full = None if key is None else (key, gen.dtype, gen.rows, gen.codebooks)
    state = states.get(full) if full is not None else None
    if state is not None:
        states.move_to_end(full)
        _restore(gen, state)
    else:
        if batched:
            _prefill(gen, prompt)
        else:
            _step_by_step(gen, prompt)
        if full is not None:
            snap = gen.snapshot()
            written = prompt.frames - 1
            kv = [mx.contiguous(a[:, :, :written]) for a in snap.kv]  # a copy: not a view of the ring
            mx.eval(kv)
            states[full] = PromptState(kv, snap.offset, snap.tokens, snap.fixed)
            del snap
            while len(states) > KEPT_PERSONAS:
                states.popitem(last=False)
    gen.step(prompt.user)  # the last prompt call: samples the text and codebook 0 of position N
    return state is not None


def _step_by_step(gen, prompt: Prompt) -> None:
    """The prefill as single-frame steps through the compiled frame function (what batching
    replaces; the benchmark compares the two). Token rows only."""
    if prompt.embeddings is not None:
        raise PromptError("frame-by-frame prompts take token rows only")
    for p in range(prompt.frames - 1):
        gen.provide(p + 1, prompt.rows[p + 1])
        gen.step(prompt.user)
    gen.provide(prompt.frames, prompt.next)
