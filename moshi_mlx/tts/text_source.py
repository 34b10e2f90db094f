"""Where `say` gets its text: an argument, a file, or standard input; checked before any work and
fed to the synthesizer from a thread as it is needed.

A file is read in pieces while it is spoken, at most `QUEUED_WORDS` words ahead of the voice, so a
whole book is read with constant memory; it is first read once through (UTF-8 check, something to
say) without keeping it. Standard input is spoken line by line as lines arrive (a flush per line).
With several voices (a dialogue), each non-empty line is a turn of the next speaker."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import MoshiError

QUEUED_WORDS = 2000  # words of a file queued ahead of the speech
_CHUNK = 1 << 16


class TextError(MoshiError):
    """Nothing (speakable) to say, or a text that cannot be read."""


class Turns:
    """A dialogue's speakers: each non-empty line is a turn of the next one (0, 1, 0, ...)."""

    def __init__(self) -> None:
        self._next = 0

    def speaker(self, line: str) -> int | None:
        """The speaker of `line`; None for a blank line (no turn)."""
        if not line.strip():
            return None
        speaker, self._next = self._next, self._next ^ 1
        return speaker


def text_pushes(text: str, dialogue: bool) -> list[tuple]:
    """The synthesizer calls ("push_text", text, speaker) for a whole text: one call, or in a
    dialogue one per line with its turn's speaker (blank lines too: word spans index `text`)."""
    if not dialogue:
        return [("push_text", text, None)]
    turns = Turns()
    return [("push_text", line, turns.speaker(line)) for line in text.splitlines(keepends=True)]


@dataclass(frozen=True)
class TextSource:
    text: str | None = None  # the text itself
    path: Path | None = None  # or a UTF-8 file
    stdin: bool = False  # or standard input

    @classmethod
    def from_args(cls, text: str | None, file: str | None) -> "TextSource":
        """Checked now: one source given, not empty, a file readable as UTF-8."""
        if (text is None) == (file is None):
            raise TextError("give the text to speak, or --file FILE, or - to read standard input")
        if text == "-":
            return cls(stdin=True)
        if text is not None:
            if not text.strip():
                raise TextError("the text is empty: nothing to say")
            return cls(text=text)
        source = cls(path=Path(file).expanduser())
        if not any(piece.strip() for piece in source.pieces()):
            raise TextError(f"{source.path} is empty: nothing to say")
        return source

    def pieces(self):
        """The text in pieces of lines (a file: read as it goes, a long line in bounded pieces)."""
        if self.text is not None:
            yield from self.text.splitlines(keepends=True)
            return
        try:
            with open(self.path, "rb") as f:
                yield from text_pieces(f, str(self.path))
        except OSError as e:
            raise TextError(f"cannot read {self.path}: {e.strerror or e}") from None


    def check_speakable(self, reader, model_name: str) -> None:
        """At least one word the tokenizer can encode (`reader`: a fresh ScriptReader)."""
        if self.stdin:
            return
        for piece in self.pieces():
            if any(e.tokens for e in reader.push(piece)):
                return
        if any(e.tokens for e in reader.flush()):
            return
        raise TextError(unspeakable_message(reader.dropped, model_name))


def text_pieces(stream, name: str, limit: int = _CHUNK):
    """The UTF-8 text of the binary `stream` as lines, a line longer than `limit` bytes cut into
    pieces at its last space (memory stays bounded whatever the line length). Each line is given as
    soon as it arrives (standard input). Not UTF-8, or binary data (a NUL byte): TextError naming
    `name` and the byte."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, carry = 0, ""
    while True:
        raw = stream.readline(limit)
        if not raw:
            break
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError as e:
            raise TextError(f"{name}: not UTF-8 text ({e.reason} at byte {offset + e.start})") from None
        if "\0" in text:
            raise TextError(f"{name}: not UTF-8 text (binary data: a NUL byte near byte "
                            f"{offset + raw.find(bytes(1))})")
        offset += len(raw)
        text = carry + text
        carry = ""
        if not text.endswith("\n") and len(text.encode()) >= limit:
            cut = max(text.rfind(" "), text.rfind("\t"))
            if 0 < cut < len(text) - 1 and len(text) - cut < limit // 2:
                text, carry = text[:cut + 1], text[cut + 1:]
        if text:
            yield text
    try:
        rest = carry + decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        raise TextError(f"{name}: not UTF-8 text ({e.reason} at its end, byte {offset})") from None
    if rest:
        yield rest


def unspeakable_message(dropped, model_name: str) -> str:
    if not dropped.count:
        return "nothing to say"
    return (f"the tokenizer of {model_name} cannot encode this text ({dropped.describe()}): is it in a "
            "language the model speaks?")


class Feeder:
    """Pushes a source's text into a synthesizer from its own thread. Errors are kept for the
    caller (`error`) and cancel the synthesis."""

    def __init__(self, source: TextSource, synth, dialogue: bool, stop: threading.Event):
        self.source, self.synth, self.dialogue, self.stop = source, synth, dialogue, stop
        self.error: BaseException | None = None
        self._turns = Turns()
        self.thread = threading.Thread(target=self._run, name="moshi-tts-text", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _push(self, line: str) -> None:
        if not self.dialogue:
            self.synth.push_text(line)
            return
        speaker = self._turns.speaker(line)
        if speaker is not None:
            self.synth.push_text(line, speaker=speaker)

    def _run(self) -> None:
        try:
            stdin = self.source.stdin
            binary = getattr(sys.stdin, "buffer", None)
            lines = (text_pieces(binary, "standard input") if binary is not None else sys.stdin) \
                if stdin else self.source.pieces()
            for line in lines:
                while self.synth.queued_words > QUEUED_WORDS and not self.stop.is_set():
                    time.sleep(0.05)
                if self.stop.is_set():
                    return
                self._push(line)
                if stdin and line.endswith("\n"):
                    self.synth.flush()  # each line spoken as soon as it arrives
            self.synth.end_of_text()
        except BaseException as e:  # reported by the thread that runs the synthesis
            self.error = e
            self.synth.cancel()
