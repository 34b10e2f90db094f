"""The Talk page: model and devices on top, the live transcript, meters, the big Start/Stop button
and a status line. Layout only; app/modes/talk.py wires it."""

from __future__ import annotations

import time

from PySide6.QtGui import QFont, QFontDatabase, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QCheckBox, QGridLayout, QHBoxLayout, QPushButton, QTextEdit,
                               QVBoxLayout, QWidget)

from ..transcript import Line, format_clock
from ..views.level_meter import LevelMeter
from ..views.mode_parts import DevicePicker, ModelPicker, label


class TalkPage(QWidget):
    def __init__(self, model_picker: ModelPicker, device_picker: DevicePicker) -> None:
        super().__init__()
        self.model_picker = model_picker
        self.device_picker = device_picker
        self.input_combo = device_picker.input_combo
        self.output_combo = device_picker.output_combo
        self.refresh_button = device_picker.refresh_button
        self.models_button = model_picker.models_button
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 14, 20, 10)
        outer.setSpacing(12)
        outer.addWidget(model_picker)
        self.aec_check = QCheckBox("Echo cancellation")
        self.aec_check.setToolTip("Remove Moshi's own voice from the microphone (for laptop speakers)")
        device_picker.grid.addWidget(self.aec_check, 1, 2)
        outer.addWidget(device_picker)

        self.transcript_view = QTextEdit()
        self.transcript_view.setReadOnly(True)
        self.transcript_view.setAccessibleName("Transcript")
        self.transcript_view.setPlaceholderText("Moshi's words appear here during a conversation.")
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont)
        font.setPointSizeF(max(font.pointSizeF(), 10) * 1.35)
        self.transcript_view.setFont(font)
        self.transcript_view.document().setDocumentMargin(10)
        outer.addWidget(self.transcript_view, 1)

        meters = QGridLayout()
        meters.setHorizontalSpacing(10)
        self.input_meter = LevelMeter()
        self.input_meter.setAccessibleName("Your voice level")
        self.output_meter = LevelMeter()
        self.output_meter.setAccessibleName("Moshi's voice level")
        meters.addWidget(label("You", secondary=True), 0, 0)
        meters.addWidget(self.input_meter, 0, 1)
        meters.addWidget(label("Moshi", secondary=True), 1, 0)
        meters.addWidget(self.output_meter, 1, 1)
        outer.addLayout(meters)

        controls = QHBoxLayout()
        controls.setSpacing(12)
        self.start_button = QPushButton("Start conversation")
        self.start_button.setMinimumHeight(44)
        self.start_button.setMinimumWidth(240)
        big = self.start_button.font()
        big.setPointSizeF(max(big.pointSizeF(), 10) * 1.3)
        big.setBold(True)
        self.start_button.setFont(big)
        self.start_button.setDefault(True)
        self.record_check = QCheckBox("Record")
        self.record_check.setToolTip("Save both voices and the transcript in the recordings folder "
                                     "(listed in History)")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the last conversation's recording and transcript")
        controls.addStretch(1)
        controls.addWidget(self.start_button)
        controls.addWidget(self.record_check)
        controls.addWidget(self.export_button)
        controls.addStretch(1)
        outer.addLayout(controls)

        status = QHBoxLayout()
        status.setSpacing(14)
        self.state_label = label("Ready")
        self.state_label.setAccessibleName("Conversation state")
        self.rtf_label = label("RTF –", secondary=True)
        self.latency_label = label("latency –", secondary=True)
        self.dropped_label = label("dropped 0", secondary=True)
        self.underruns_label = label("underruns 0", secondary=True)
        self.rtf_label.setToolTip("Real-time factor: processing time per 80 ms frame / 80 ms (below 1 keeps up)")
        self.latency_label.setToolTip("From your voice reaching the microphone to Moshi's answer being queued")
        status.addWidget(self.state_label, 1)
        for w in (self.rtf_label, self.latency_label, self.dropped_label, self.underruns_label):
            status.addWidget(w)
        outer.addLayout(status)

    # -- state shown -------------------------------------------------------------------------
    def set_running(self, running: bool, busy: bool = False) -> None:
        """running: a conversation is on (button says Stop); busy: starting/stopping (disabled)."""
        self.start_button.setText("Stop conversation" if running else "Start conversation")
        self.start_button.setEnabled(not busy)
        for w in (self.input_combo, self.output_combo, self.refresh_button, self.models_button,
                  self.model_picker.guide_models_button, self.model_picker.guide_demo_button,
                  self.record_check, self.aec_check):
            w.setEnabled(not running and not busy)

    def set_state_text(self, text: str) -> None:
        self.state_label.setText(text)

    def set_stats(self, rtf: float, latency_ms: float, dropped: int, underruns: int) -> None:
        self.rtf_label.setText(f"RTF {rtf:.2f}")
        self.latency_label.setText(f"latency {latency_ms:.0f} ms")
        self.dropped_label.setText(f"dropped {dropped}")
        self.underruns_label.setText(f"underruns {underruns}")

    def reset_stats(self) -> None:
        self.rtf_label.setText("RTF –")
        self.latency_label.setText("latency –")
        self.dropped_label.setText("dropped 0")
        self.underruns_label.setText("underruns 0")
        self.input_meter.reset()
        self.output_meter.reset()

    def set_levels(self, input_db: float, output_db: float) -> None:
        self.input_meter.set_level(input_db)
        self.output_meter.set_level(output_db)

    # -- transcript ----------------------------------------------------------------------------
    def add_conversation_separator(self, number: int, started: float) -> None:
        cursor = self._end_cursor()
        if not self.transcript_view.document().isEmpty():
            cursor.insertBlock()
        fmt = QTextCharFormat()
        fmt.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
        fmt.setFontWeight(QFont.Weight.DemiBold)
        clock = time.strftime("%H:%M", time.localtime(started))
        cursor.insertText(f"── Conversation {number} · {clock} ──", fmt)
        self.transcript_view.setTextCursor(cursor)

    def add_transcript(self, what: str, line: Line, piece: str) -> None:
        """Show a piece of text: `what` from Transcript.add ('line' starts a timestamped line)."""
        cursor = self._end_cursor()
        if what in ("line", "conversation"):
            cursor.insertBlock()
            stamp = QTextCharFormat()
            stamp.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
            stamp.setFontFixedPitch(True)
            cursor.insertText(f"{format_clock(line.time_s):>6}  ", stamp)
            piece = piece.lstrip()
        cursor.insertText(piece, QTextCharFormat())
        self.transcript_view.setTextCursor(cursor)
        self.transcript_view.ensureCursorVisible()

    def render_transcript(self, transcript) -> None:
        """Draw the whole transcript again (after a dark/light switch: colours are re-read)."""
        self.transcript_view.clear()
        for conv in transcript.conversations:
            self.add_conversation_separator(conv.number, conv.started)
            for line in conv.lines:
                self.add_transcript("line", line, line.text)

    def transcript_text(self) -> str:
        return self.transcript_view.toPlainText()

    def _end_cursor(self) -> QTextCursor:
        cursor = self.transcript_view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor
