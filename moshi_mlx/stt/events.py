"""What a transcription emits, as it goes (plain data: no MLX arrays, safe to pass between threads).

Times are seconds in the input audio (0 = its first sample), on the text's clock: the model's delay
and the silence prefix are subtracted (see words.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextPiece:
    """Text to append at once, for live captions: a word-initial piece has its leading space.
    Pieces arrive as the model writes them, before the word's end (and timing) is known."""

    text: str
    time: float


@dataclass(frozen=True)
class Word:
    """A finished word with its timing: `start` = the frame of its first token; `end` = where the
    next word begins (Kyutai's rule), or at most 1 s after its start for the last word of a turn
    or of the stream."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class EndOfTurn:
    """The speaker finished their turn: extra head 2's first probability went above 0.5 (only
    models with extra heads, e.g. Kyutai's -candle STT 1B). Once per turn."""

    time: float
    probability: float


SttEvent = TextPiece | Word | EndOfTurn
