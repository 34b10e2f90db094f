"""Running text that grows as a session goes: timestamped lines or paragraphs, separators between
sessions (Transcribe's captions, Translate's translation). Colours are read from the palette at
each insertion, so redrawing after a light/dark switch uses the new ones."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase, QPainter, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QTextEdit

from ..transcript import Conversation, Transcript, format_clock


class LiveTextView(QTextEdit):
    def __init__(self, accessible_name: str, empty_text: str, scale: float = 1.35) -> None:
        """`empty_text`: what the view says while it is empty (wrapped and centred, unlike Qt's
        one-line placeholder)."""
        super().__init__()
        self.setReadOnly(True)
        self.setAccessibleName(accessible_name)
        self.setAccessibleDescription(empty_text)
        self.empty_text = empty_text
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont)
        font.setPointSizeF(max(font.pointSizeF(), 10) * scale)
        self.setFont(font)
        self.document().setDocumentMargin(10)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if self.document().isEmpty() and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            font = self.font()
            font.setPointSizeF(font.pointSizeF() / 1.2)
            painter.setFont(font)
            area = self.viewport().rect().adjusted(40, 20, -40, -20)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)
            painter.end()

    def _secondary(self, bold: bool = False, fixed: bool = False) -> QTextCharFormat:
        fmt = QTextCharFormat()
        fmt.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
        if bold:
            fmt.setFontWeight(QFont.Weight.DemiBold)
        fmt.setFontFixedPitch(fixed)
        return fmt

    def _end(self) -> QTextCursor:
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _show(self, cursor: QTextCursor) -> None:
        self.setTextCursor(cursor)
        self.ensureCursorVisible()

    def add_separator(self, text: str) -> None:
        """A heading line between sessions ("── Translation 2 · 10:42 ──")."""
        cursor = self._end()
        if not self.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(f"── {text} ──", self._secondary(bold=True))
        self._show(cursor)

    def add_line(self, stamp: str, text: str, gap: bool = False) -> None:
        """A new line starting with its time (`gap`: a blank line before it: a paragraph)."""
        cursor = self._end()
        if not self.document().isEmpty():
            cursor.insertBlock()
            if gap:
                cursor.insertBlock()
        cursor.insertText(f"{stamp:>6}  ", self._secondary(fixed=True))
        cursor.insertText(text.lstrip(), QTextCharFormat())
        self._show(cursor)

    def append(self, text: str) -> None:
        """Text continuing the last line."""
        cursor = self._end()
        cursor.insertText(text, QTextCharFormat())
        self._show(cursor)

    # -- a Transcript (app/transcript.py): lines at pauses, one separated section per session -----
    def add_piece(self, what: str, transcript: Transcript, title: str, piece: str) -> None:
        """Show a piece that Transcript.add() placed ('conversation', 'line' or 'text'); sessions
        are headed "<title> <number> · <clock time>"."""
        conv = transcript.conversations[-1]
        if what == "conversation":
            self._heading(title, conv)
        if what in ("line", "conversation"):
            self.add_line(format_clock(conv.lines[-1].time_s), piece)
        else:
            self.append(piece)

    def render(self, transcript: Transcript, title: str) -> None:
        """Draw a whole Transcript again (after a light/dark switch: colours are re-read)."""
        self.clear()
        for conv in transcript.conversations:
            self._heading(title, conv)
            for line in conv.lines:
                self.add_line(format_clock(line.time_s), line.text)

    def _heading(self, title: str, conv: Conversation) -> None:
        self.add_separator(f"{title} {conv.number} · {time.strftime('%H:%M', time.localtime(conv.started))}")
