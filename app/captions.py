"""The transcript the Transcribe page shows: a live session's captions or a file's, as paragraphs
with their start times (moshi_mlx.stt.formats.Captions decides where paragraphs break: an end of
turn, or a pause), and the finished words and ends of turn, which export writes as text or
subtitles with the engine's own writers. Plain Python (no Qt): the view renders what this holds."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass

from .fileops import atomic_text
from .history import seconds_of
from .transcript import format_clock

EXPORT_FORMATS = ("txt", "srt")
_OPENED = re.compile(r"^\n*\[([0-9:.]+)\] ")  # how Captions opens a paragraph


@dataclass
class Paragraph:
    time_s: float
    text: str


class CaptionDocument:
    def __init__(self, source: str = "") -> None:
        from moshi_mlx.stt.formats import Captions

        self.source = source  # the file transcribed; "" for the microphone
        self._captions = Captions()
        self.paragraphs: list[Paragraph] = []
        self.marks: list = []  # Word and EndOfTurn events, for export
        self.words = 0
        self.duration = 0.0

    def add(self, event) -> tuple[str, str]:
        """Take one engine event (TextPiece, Word, EndOfTurn). Returns what to show: ('paragraph',
        its first text) when it opened a paragraph, ('text', piece) when it continued the last
        one, ('', '') when nothing is shown."""
        from moshi_mlx.stt.events import EndOfTurn, Word

        if isinstance(event, (Word, EndOfTurn)):
            self.marks.append(event)
            self.words += isinstance(event, Word)
            self.duration = max(self.duration, getattr(event, "end", getattr(event, "time", 0.0)))
        piece = self._captions.text(event)
        opened = _OPENED.match(piece)
        if opened:
            self.paragraphs.append(Paragraph(seconds_of(opened.group(1)), piece[opened.end():]))
            return "paragraph", self.paragraphs[-1].text
        piece = piece.strip("\n")  # "\n\n" alone: an end of turn closed the paragraph
        if piece and self.paragraphs:
            self.paragraphs[-1].text += piece
            return "text", piece
        return "", ""

    @property
    def has_words(self) -> bool:
        return self.words > 0

    def text(self) -> str:
        """The captions as plain text: one paragraph per turn, each with its time (Copy)."""
        return "".join(f"[{format_clock(p.time_s)}] {p.text.strip()}\n\n" for p in self.paragraphs).rstrip("\n")

    def export(self, path: str | os.PathLike, fmt: str) -> str:
        """Write the finished words as `fmt` (txt: a paragraph per turn; srt: subtitles) to `path`,
        through a temporary file renamed at the end. Returns the path."""
        from moshi_mlx.stt.formats import make_writer

        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"cannot export as {fmt!r} (choose from {', '.join(EXPORT_FORMATS)})")
        out = io.StringIO()
        writer = make_writer(fmt, out, {})
        for event in self.marks:
            writer.event(event)
        writer.close(self.duration)
        return str(atomic_text(path, out.getvalue()))
