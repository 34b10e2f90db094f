"""Transcript files written as the words come (nothing of the audio is kept): plain text, SubRip
(.srt), WebVTT (.vtt) and JSON (words with start/end seconds and the ends of turn).

Each writer takes the Transcriber's events (`event(e)`) and ends with `close(duration)`. Text pieces
are ignored: files are made of finished words. A turn (end-of-turn mark) ends a paragraph and a
subtitle cue."""

from __future__ import annotations

import json
from typing import TextIO

from .events import EndOfTurn, SttEvent, TextPiece, Word
from .words import LAST_WORD_S

FORMATS = ("txt", "srt", "vtt", "json")
NO_END_OF_TURN_NOTE = ("this model has no end-of-turn heads (only Kyutai's -candle STT 1B weights "
                       "carry them): no end-of-turn marks")


class Writer:
    def __init__(self, f: TextIO, meta: dict):
        self.f, self.meta = f, meta

    def event(self, e: SttEvent) -> None:
        if isinstance(e, Word):
            self.word(e)
        elif isinstance(e, EndOfTurn):
            self.end_of_turn(e)

    def word(self, w: Word) -> None: ...

    def end_of_turn(self, e: EndOfTurn) -> None: ...

    def close(self, duration: float) -> None: ...


class TextWriter(Writer):
    """Words separated by spaces, one paragraph per turn."""

    def __init__(self, f: TextIO, meta: dict):
        super().__init__(f, meta)
        self._line_open = False

    def word(self, w: Word) -> None:
        self.f.write((" " if self._line_open else "") + w.text)
        self._line_open = True

    def end_of_turn(self, e: EndOfTurn) -> None:
        if self._line_open:
            self.f.write("\n\n")
            self._line_open = False

    def close(self, duration: float) -> None:
        if self._line_open:
            self.f.write("\n")


def stamp(seconds: float, separator: str) -> str:
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def _shown_end(w: Word) -> float:
    """A word's end as subtitled: Kyutai's end runs to the next word, across pauses."""
    return min(w.end, w.start + LAST_WORD_S)


class SubtitleWriter(Writer):
    """SubRip or WebVTT cues: at most two lines of LINE_CHARS, at most MAX_CUE_S long, ended by a
    turn or a sentence. A cue shows until its last word's end, at most LAST_WORD_S after that
    word's start (a pause is not subtitled)."""

    LINE_CHARS = 42
    MAX_CUE_S = 7.0
    MIN_CUE_S = 0.3

    def __init__(self, f: TextIO, meta: dict, vtt: bool):
        super().__init__(f, meta)
        self.vtt = vtt
        self._words: list[Word] = []
        self._count = 0
        if vtt:
            f.write("WEBVTT\n\n")

    def word(self, w: Word) -> None:
        text = " ".join(x.text for x in self._words + [w])
        if self._words and (len(text) > 2 * self.LINE_CHARS or _shown_end(w) - self._words[0].start > self.MAX_CUE_S):
            self._cue()
        self._words.append(w)
        if w.text[-1:] in ".?!":
            self._cue()

    def end_of_turn(self, e: EndOfTurn) -> None:
        self._cue()

    def close(self, duration: float) -> None:
        self._cue()

    def _cue(self) -> None:
        if not self._words:
            return
        words, self._words = self._words, []
        start = words[0].start
        end = max(_shown_end(words[-1]), start + self.MIN_CUE_S)
        self._count += 1
        sep = "." if self.vtt else ","
        header = "" if self.vtt else f"{self._count}\n"
        self.f.write(f"{header}{stamp(start, sep)} --> {stamp(end, sep)}\n{self._lines(words)}\n\n")

    def _lines(self, words: list[Word]) -> str:
        text = " ".join(w.text for w in words)
        if len(text) <= self.LINE_CHARS or len(words) == 1:
            return text
        # two lines, split at the word boundary nearest the middle
        best, cut, n = None, 0, 0
        for i, w in enumerate(words[:-1]):
            n += len(w.text) + (1 if i else 0)
            if best is None or abs(len(text) - 2 * n) < best:
                best, cut = abs(len(text) - 2 * n), i + 1
        return " ".join(w.text for w in words[:cut]) + "\n" + " ".join(w.text for w in words[cut:])


class JsonWriter(Writer):
    """{"file", "model", ..., "words": [{"word", "start", "end"[, "end_of_turn": true]}],
    "end_of_turns": [{"time", "probability"}], "text", "duration"}: words are written as they
    come (one held back to mark a turn's last word)."""

    def __init__(self, f: TextIO, meta: dict):
        super().__init__(f, meta)
        head = json.dumps(meta, ensure_ascii=False, indent=1)[:-2] + ",\n" if meta else "{\n"
        f.write(head + ' "words": [')  # the object stays open: words are appended as they come
        self._held: dict | None = None
        self._written = 0
        self._turns: list[dict] = []
        self._paragraphs: list[list[str]] = [[]]

    def word(self, w: Word) -> None:
        self._release()
        self._held = {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
        self._paragraphs[-1].append(w.text)

    def end_of_turn(self, e: EndOfTurn) -> None:
        if self._held is not None:
            self._held["end_of_turn"] = True
        self._turns.append({"time": round(e.time, 3), "probability": round(e.probability, 4)})
        if self._paragraphs[-1]:
            self._paragraphs.append([])

    def _release(self) -> None:
        if self._held is not None:
            self.f.write(("," if self._written else "") + "\n  " + json.dumps(self._held, ensure_ascii=False))
            self._written += 1
            self._held = None

    def close(self, duration: float) -> None:
        self._release()
        text = "\n".join(" ".join(p) for p in self._paragraphs if p)
        tail = {"end_of_turns": self._turns, "text": text, "duration": round(duration, 3)}
        self.f.write(("\n " if self._written else "") + "],\n" + json.dumps(tail, ensure_ascii=False, indent=1)[2:])
        self.f.write("\n")


class Captions:
    """Text pieces and ends of turn as running text (live captions, recorded transcripts): each
    paragraph starts with its time; a turn ends it, and so does a pause of PAUSE_S without text
    (models without end-of-turn heads)."""

    PAUSE_S = 3.0

    def __init__(self, ms: bool = True):
        self.ms = ms
        self.open = False
        self._last = 0.0

    def text(self, e: SttEvent) -> str:
        if isinstance(e, TextPiece) and e.text:
            pause = self.open and e.time - self._last > self.PAUSE_S
            self._last = e.time
            if self.open and not pause:
                return e.text
            self.open = True
            when = stamp(e.time, ".")
            return ("\n\n" if pause else "") + f"[{when if self.ms else when[:-4]}] " + e.text.lstrip()
        if isinstance(e, EndOfTurn) and self.open:
            self.open = False
            return "\n\n"
        return ""

    def close(self) -> str:
        was, self.open = self.open, False
        return "\n" if was else ""


def make_writer(fmt: str, f: TextIO, meta: dict) -> Writer:
    if fmt == "txt":
        return TextWriter(f, meta)
    if fmt in ("srt", "vtt"):
        return SubtitleWriter(f, meta, vtt=fmt == "vtt")
    if fmt == "json":
        return JsonWriter(f, meta)
    raise ValueError(f"unknown transcript format {fmt!r} (choose from {', '.join(FORMATS)})")
