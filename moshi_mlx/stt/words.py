"""Words and their times from an STT model's text stream (one token per 80 ms frame).

Kyutai's text stream conventions (its STT models, `scripts/stt_from_file_pytorch.py` of
delayed-streams-modeling): token 3 is padding (nothing is said), token 0 ("end of padding") comes
just before a word starts; the word's pieces follow in consecutive frames, a word-initial piece
starting with "▁". The stream lags the audio by the model's delay, so a word's time is its frame's
time minus the delay and the silence prefix (the clock is the caller's).

Rules (Kyutai's, written for a stream): a word starts at the frame of its first piece and ends at
the next boundary: the end-of-padding token before the next word, or the next word-initial piece
when there is none between them. The last word before the stream ends or the turn ends has no next
boundary: it ends at most 1 s after its start (Kyutai's script: "upper-bound ... 1 second"). So a
word is final (and reported) only once the next one begins; live captions use the text pieces,
which come at once.
"""

from __future__ import annotations

from typing import Callable

from .events import Word

END_OF_PADDING = 0  # Kyutai's EPAD: a word starts next
PADDING = 3
LAST_WORD_S = 1.0
WORD_START = "\u2581"  # sentencepiece's word-initial mark


class WordTimer:
    """Text tokens in, finished `Word`s out. `clock(frame) -> seconds` turns a frame index into
    input time (delay and prefix subtracted, clamped to the audio)."""

    def __init__(self, tokenizer, clock: Callable[[int], float]):
        self.sp = tokenizer
        self.clock = clock
        self._vocab = tokenizer.get_piece_size()
        self.reset()

    def reset(self) -> None:
        self._ids: list[int] = []  # pieces of the word being read
        self._start = 0  # its first frame

    def push(self, token: int, frame: int) -> list[Word]:
        """The text token of `frame`; returns the words this token finishes (0 or 1)."""
        if token == PADDING or token < 0 or token >= self._vocab:
            return []
        if token == END_OF_PADDING or self.sp.is_control(token) or self.sp.is_unknown(token):
            return self._finish(self.clock(frame))  # a boundary (bos/eos too)
        done = []
        if self.sp.id_to_piece(token).startswith(WORD_START) and self._ids:
            done = self._finish(self.clock(frame))
        if not self._ids:
            self._start = frame
        self._ids.append(token)
        return done

    def close(self, limit: float) -> list[Word]:
        """The stream or the turn ended at `limit` seconds: finish the word being read."""
        if not self._ids:
            return []
        return self._finish(min(self.clock(self._start) + LAST_WORD_S, limit))

    def _finish(self, end: float) -> list[Word]:
        ids, self._ids = self._ids, []
        if not ids:
            return []
        text = self.sp.decode(ids).strip()
        start = self.clock(self._start)
        return [Word(text, start, max(end, start))] if text else []
