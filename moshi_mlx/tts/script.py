"""Text -> the words the TTS state machine feeds (`Entry`), incrementally.

The rules are Kyutai's `script_to_entries` (moshi 0.2.13): "’" reads as "'", ":" as a space,
parentheses are dropped, words are split on whitespace, `<break time="1.5s"/>` inserts a pause of
that many frames, the first word of a turn carries its speaker's token when the speaker changes
(multi-speaker models only), and `padding_between` forces pads after each word (1 makes the model
articulate better). Text may arrive in pieces (a language model's output): the last, possibly
unfinished word is held until whitespace follows it or the text is flushed.

A word the tokenizer cannot encode (pieces it does not know, or bytes of a script it was not
trained on) is dropped and reported: its unknown-piece id would be read as "new word".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .machine import Entry, TokenIds

_BREAK = re.compile(r'<break\s+time="([0-9]+(?:\.[0-9]*)?)s"\s*/?>')
_SEPARATOR = re.compile(r'<break\s+time="([0-9]+(?:\.[0-9]*)?)s"\s*/?>|\s+')


def normalize(text: str) -> tuple[str, list[int]]:
    """Kyutai's replacements, with each kept character's index in `text`."""
    out, where = [], []
    for i, ch in enumerate(text):
        if ch in "()":
            continue
        out.append("'" if ch == "\u2019" else " " if ch == ":" else ch)
        where.append(i)
    return "".join(out), where


@dataclass
class Unspeakable:
    """Words dropped because the tokenizer cannot encode them: how many, and the first few."""

    count: int = 0
    words: list[str] = field(default_factory=list)
    keep: int = 20

    def add(self, word: str) -> None:
        self.count += 1
        if len(self.words) < self.keep:
            self.words.append(word)

    def describe(self) -> str:
        sample = ", ".join(repr(w) for w in self.words[:5])
        return f"{self.count} word(s): {sample}{', ...' if self.count > 5 else ''}"


class ScriptReader:
    """Turns text pushed in pieces into entries. `speaker`: 0 (main voice) or 1 (other voice)."""

    def __init__(self, tokenizer, ids: TokenIds, frame_rate: float, multi_speaker: bool,
                 padding_between: int = 1):
        self.sp = tokenizer
        self.ids = ids
        self.frame_rate = frame_rate
        self.multi_speaker = multi_speaker
        self.padding_between = padding_between
        self.reset()

    def reset(self) -> None:
        self.dropped = Unspeakable()
        self._pending = ""  # raw text not turned into entries yet
        self._pending_start = 0  # its offset in all the text pushed
        self._speaker = 0  # speaker of the text being pushed
        self._last_speaker: int | None = None  # speaker of the last word given a speaker token
        self._speaker_due = True  # the next word opens a turn

    def push(self, text: str, speaker: int | None = None, final: bool = False) -> list[Entry]:
        """Entries for the complete words of `text` (all of it when `final`). A new `speaker`
        starts a turn."""
        out = []
        if speaker is not None and speaker != self._speaker:
            out += self._split(final=True)  # the previous turn's words are complete
            self._speaker, self._speaker_due = speaker, True
        self._pending += text
        return out + self._split(final)

    def flush(self) -> list[Entry]:
        return self._split(final=True)

    def _split(self, final: bool) -> list[Entry]:
        raw = self._pending
        if not final:  # keep the last word (and an unclosed tag) until more text comes
            tag = raw.rfind("<")
            end = tag if tag > raw.rfind(">") else len(raw)
            cut = max(raw.rfind(c, 0, end) for c in " \t\n\r\f\v")
            if cut < 0:
                return []
            raw = raw[:cut + 1]
        self._pending = self._pending[len(raw):]
        base = self._pending_start
        self._pending_start += len(raw)
        norm, where = normalize(raw)
        entries, pos = [], 0
        for m in _SEPARATOR.finditer(norm):
            self._word(norm, where, pos, m.start(), base, entries)
            if m.group(1):
                frames = int(round(float(m.group(1)) * self.frame_rate))
                start = base + where[m.start()]
                entries.append(Entry((), "", frames, (start, base + where[m.end() - 1] + 1), self._speaker))
            pos = m.end()
        self._word(norm, where, pos, len(norm), base, entries)
        return entries

    def _word(self, norm, where, start, end, base, entries) -> None:
        word = norm[start:end]
        if not word:
            return
        tokens = self._encode(word)
        if tokens is None:
            self.dropped.add(word)
            return
        if self._speaker_due:
            self._speaker_due = False
            if self.multi_speaker and self._last_speaker != self._speaker:
                self._last_speaker = self._speaker
                tokens = [self.ids.main if self._speaker == 0 else self.ids.other] + tokens
        padding = max(0, self.padding_between + len(tokens) - 1) if self.padding_between > 0 else 0
        span = (base + where[start], base + where[end - 1] + 1)
        entries.append(Entry(tuple(tokens), word, padding, span, self._speaker))

    def _encode(self, word: str) -> list[int] | None:
        tokens = self.sp.encode(word)
        unknown = self.sp.unk_id()
        if not tokens or any(t == unknown or self.sp.is_byte(t) for t in tokens):
            return None
        return tokens


def script_entries(tokenizer, ids: TokenIds, frame_rate: float, turns, multi_speaker: bool,
                   padding_between: int = 1) -> tuple[list[Entry], list[str]]:
    """All entries of a script given at once (turns alternate between speaker 0 and 1), and the
    words dropped as unspeakable."""
    reader = ScriptReader(tokenizer, ids, frame_rate, multi_speaker, padding_between)
    entries = []
    for i, turn in enumerate(turns):
        entries += reader.push(turn, speaker=i % 2, final=True)
    return entries, reader.dropped.words
