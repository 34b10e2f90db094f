"""When the user's turn ends and when they cut in, frame by frame (80 ms), from what the STT gives.

With an STT that has extra heads (Kyutai's -candle 1B), as Unmute does: head 2's pause probability
is smoothed (an exponential moving average starting at 1.0); the first ~1 s of a session is
ignored; a word from the user resets the smoothed value to 0; once the user has said something,
the value above `pause_threshold` ends the turn. Without heads: `silence_timeout_s` without a new
word ends it. While the assistant speaks, a word from the user, or (after the first ~3 s, the echo
canceller's settling time) the smoothed value under `barge_in_threshold`, is a barge-in.

Pure Python, no MLX: unit-tested with synthetic probabilities (tests/assistant/test_turn.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FRAME_S = 0.08
IGNORE_S = 0.96  # Unmute: the first 12 steps
BARGE_IN_AFTER_S = 3.0  # Unmute: the echo cancellation takes a while to kick in
SMOOTHING_S = 0.1  # time constant of the moving average


@dataclass
class TurnDetector:
    pause_threshold: float = 0.6
    barge_in_threshold: float = 0.4
    silence_timeout_s: float = 1.0
    has_heads: bool = True
    smoothing_s: float = SMOOTHING_S

    def __post_init__(self):
        self.alpha = 1.0 - math.exp(-FRAME_S / self.smoothing_s) if self.smoothing_s > 0 else 1.0
        self.frames = 0  # frames seen in this session
        self.pause = 1.0  # the smoothed pause probability
        self.reset_turn()

    def reset_turn(self) -> None:
        """A new user turn begins (after a reply, or when one was cut)."""
        self.user_spoke = False  # a word since the last end of turn
        self.silent_frames = 0  # frames since the last word

    @property
    def time_s(self) -> float:
        return self.frames * FRAME_S

    def frame(self, probability: float | None, words: int = 0, speaking: bool = False) -> str | None:
        """One STT frame: its pause probability (None: no heads) and how many words (text pieces
        that start a word) it wrote. Returns "end_of_turn", "barge_in" or None."""
        self.frames += 1
        if probability is not None:
            self.pause += self.alpha * (float(probability) - self.pause)
        if words:
            if not self.user_spoke:
                self.pause = 0.0  # Unmute: the first word of a new message resets the pause value
            self.user_spoke = True
            self.silent_frames = 0
        else:
            self.silent_frames += 1
        if speaking:
            if words:
                return "barge_in"
            if (self.has_heads and probability is not None and self.time_s > BARGE_IN_AFTER_S
                    and self.pause < self.barge_in_threshold):
                return "barge_in"
            return None
        if not self.user_spoke or self.time_s <= IGNORE_S:
            return None
        if self.has_heads and probability is not None:
            ended = self.pause > self.pause_threshold
        else:
            ended = self.silent_frames * FRAME_S >= self.silence_timeout_s
        if ended:
            self.reset_turn()
            return "end_of_turn"
        return None
