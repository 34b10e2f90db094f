"""The word state machine of Kyutai's TTS (delayed streams modeling).

The model writes its own padded text stream: at each frame it predicts either "pad" (keep going) or
"new word" (the next word starts now). The machine answers with the token actually fed back: the
next word's tokens one per frame, padding otherwise, and enforces the limits the model was trained
with: a few forced pads at the start and after each word that asks for them (breaks, padding
between words), and a new word forced after `max_padding` pads in a row. Models with a second,
look-ahead text stream also see the tokens of the word `lookahead` words ahead, muxed into the same
token (`(second + 1) * card + main`). Facts from moshi 0.2.13 `moshi/models/tts.py`.

Streaming: words are appended to `entries` at any time; when the model asks for a word and none is
queued, the machine pads and records the call (`ended_at`); `resume()` clears it so that words
appended later are spoken as a new segment of the same stream.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TokenIds:
    """Special text tokens. `card` = text vocabulary + 1, the base of the two muxed text streams."""

    card: int
    new_word: int = 0
    pad: int = 3
    main: int = 1  # turn of the main speaker (voice 0)
    other: int = 2  # turn of the other speaker (voice 1)
    zero: int = -1  # embedded as exact zeros: no input


@dataclass(frozen=True)
class Entry:
    """One word to speak: its tokens (the speaker token first at a turn change), its text, and the
    pads forced after it. A break (`<break time="1s"/>`) is an entry without tokens.
    `span`: the word's characters in the text pushed so far (for highlighting)."""

    tokens: tuple[int, ...]
    text: str
    padding: int = 0
    span: tuple[int, int] = (0, 0)
    speaker: int = 0


@dataclass
class MachineState:
    entries: deque = field(default_factory=deque)  # words not consumed yet
    remaining_padding: int = 0  # pads the model may still choose before a word is forced
    forced_padding: int = 0  # pads still imposed
    queued: deque = field(default_factory=deque)  # tokens of the current word still to feed
    ahead_queued: deque = field(default_factory=deque)  # look-ahead tokens still to feed
    ended_at: int | None = None  # the call at which the model asked for a word and none was left


class WordMachine:
    def __init__(self, ids: TokenIds, lookahead: int = 0, max_padding: int = 8, initial_padding: int = 2):
        self.ids = ids
        self.lookahead = lookahead
        self.max_padding = max_padding
        self.initial_padding = initial_padding
        self.reset()

    def reset(self) -> None:
        self.state = MachineState(remaining_padding=self.initial_padding,
                                  forced_padding=self.initial_padding)

    def append(self, entries) -> None:
        self.state.entries.extend(entries)

    def resume(self) -> None:
        """Words pushed after the end was reached: speak them as the next segment."""
        self.state.ended_at = None

    @property
    def busy(self) -> bool:
        """Tokens of the current word are still being fed."""
        return bool(self.state.queued)

    def words_ahead(self, limit: int | None = None) -> int:
        """Queued entries that carry tokens (what the look-ahead stream can see), counted up to
        `limit` (a whole book may be queued)."""
        return count_words(self.state.entries, limit)

    def _tokens_ahead(self) -> tuple[int, ...]:
        count = 0
        for entry in self.state.entries:
            if entry.tokens:
                count += 1
                if count == self.lookahead:
                    return entry.tokens
        return ()

    def _decide(self, sampled: int) -> int:
        """The model's choice (new word or pad), overruled by the limits."""
        s, ids = self.state, self.ids
        if s.queued or s.forced_padding > 0:
            return ids.pad
        if s.remaining_padding <= 0:
            return ids.new_word
        return sampled if sampled in (ids.new_word, ids.pad) else ids.pad

    def step(self, call: int, sampled: int) -> tuple[int, Entry | None]:
        """The model sampled `sampled` at `call`: returns (the token to feed, the entry consumed
        now or None)."""
        s, ids = self.state, self.ids
        choice = self._decide(sampled)
        consumed = None
        if choice == ids.new_word:
            if s.entries:
                consumed = s.entries.popleft()
                if consumed.tokens:
                    s.queued.extend(consumed.tokens)
                    if self.lookahead:
                        s.ahead_queued.extend(self._tokens_ahead())
                    s.remaining_padding = self.max_padding
                else:  # a break: pretend the model padded
                    choice = ids.pad
                s.forced_padding = consumed.padding
            else:
                # Nothing left: pad. Models with a look-ahead stream are told once that the text
                # ended (a new-word token on the second stream).
                if not (self.lookahead and s.ended_at is None):
                    choice = ids.pad
                if s.ended_at is None:
                    s.ended_at = call
        if choice == ids.pad:
            s.remaining_padding = max(s.remaining_padding - 1, 0)
            s.forced_padding = max(s.forced_padding - 1, 0)
            main = s.queued.popleft() if s.queued else ids.pad
        else:
            main = ids.new_word
        if not self.lookahead:
            return main, consumed
        second = ids.zero
        if main == ids.new_word:  # the new-word signal goes to the second stream
            second = ids.new_word
            main = s.queued.popleft() if s.queued else ids.pad
        elif s.ahead_queued:
            second = s.ahead_queued.popleft()
        return (second + 1) * ids.card + main, consumed


def count_words(entries, limit: int | None = None) -> int:
    """Entries with tokens (words, not breaks), counting stopped at `limit`."""
    count = 0
    for entry in entries:
        if entry.tokens:
            count += 1
            if limit is not None and count >= limit:
                break
    return count
