"""The delay buffer of Kyutai's LMGen, on the host: which token each stream feeds at each position.

Streams: 0 = text, 1..n_q = audio codebooks. The first `generated` audio streams are sampled by the
depformer, the others are given by the caller (the user's audio in Moshi, all 32 codebooks in STT).
Stream k's token for frame t sits at position t + delays[k]; position p's column is the temporal
input of call p (the initial tokens while p <= delays[k]). A call's sampled tokens are written at
position p + 1 unless the caller provided that position (`provide`: prompts, TTS prefixes)."""

from __future__ import annotations

import numpy as np

UNGENERATED = -2  # Kyutai's marker for 'not generated yet' in the delay buffer


class DelayBuffer:
    def __init__(self, delays, initial: np.ndarray, generated: int):
        self.delays = np.asarray(delays, dtype=np.int64)
        self.initial = np.asarray(initial, dtype=np.int64)
        self.generated = generated  # audio streams sampled by the depformer
        self.length = int(self.delays.max()) + 2  # as in LMGen
        self.reset()

    def reset(self) -> None:
        self.tokens = np.full((len(self.delays), self.length), UNGENERATED, np.int64)
        self.fixed = np.zeros((len(self.delays), self.length), bool)

    @property
    def max_delay(self) -> int:
        return int(self.delays.max())

    @property
    def given(self) -> int:
        """Audio streams the caller gives (user codebooks)."""
        return len(self.delays) - 1 - self.generated

    def write_given(self, offset: int, codes: np.ndarray) -> None:
        """The caller's codes of frame `offset` for the given streams, at offset + their delays."""
        first = self.generated + 1
        for j, d in enumerate(self.delays[first:]):
            self.tokens[first + j, (offset + d) % self.length] = codes[j]

    def provide(self, position: int, tokens: np.ndarray) -> None:
        """Fix the tokens of `position` (UNGENERATED entries: left to sampling or the caller)."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        col = position % self.length
        mask = tokens != UNGENERATED
        self.tokens[mask, col] = tokens[mask]
        self.fixed[mask, col] = True

    def input(self, offset: int) -> np.ndarray:
        """The temporal input [1 + n_q] of call `offset`."""
        col = offset % self.length
        inputs = self.tokens[:, col].copy()
        is_init = offset <= self.delays
        inputs[is_init] = self.initial[is_init]
        return inputs

    def all_fixed(self, position: int) -> bool:
        """True when every sampled audio stream of `position` was provided (no depformer needed)."""
        return bool(self.fixed[1:1 + self.generated, position % self.length].all())

    def record(self, offset: int, tokens: np.ndarray) -> np.ndarray | None:
        """After call `offset`: write its sampled tokens (text, generated codebooks) at offset + 1
        where not provided, free column `offset`, and read out the un-delayed frame
        (text, generated codebooks) once the delays have filled (None before)."""
        col, new = offset % self.length, (offset + 1) % self.length
        keep = ~self.fixed[: len(tokens), new]
        self.tokens[: len(tokens), new] = np.where(keep, tokens, self.tokens[: len(tokens), new])
        self.fixed[:, col] = False
        if offset + 1 <= self.max_delay:
            return None
        gen = self.delays[: self.generated + 1]
        return self.tokens[np.arange(self.generated + 1), (offset + 1 - self.max_delay + gen) % self.length]
