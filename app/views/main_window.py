"""The main window: model and devices on top, the live transcript, meters, the big Start/Stop
button and the status line. Layout only; moshi_app.controllers.main_controller wires it."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont, QFontDatabase, QKeySequence, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel,
                               QMainWindow, QPushButton, QSizePolicy, QTextEdit, QVBoxLayout, QWidget)

from ..transcript import Line, format_clock
from .level_meter import LevelMeter


def _label(text: str = "", *, secondary: bool = False) -> QLabel:
    w = QLabel(text)
    if secondary:
        w.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return w


class MainWindow(QMainWindow):
    closing = Signal()  # emitted (synchronously) when the window is about to close

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Moshi")
        self.resize(760, 620)
        self.setMinimumSize(560, 460)
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(20, 16, 20, 12)
        outer.setSpacing(12)
        self.setCentralWidget(central)

        # First-launch guide (hidden once a model is chosen).
        self.guide = QFrame()
        self.guide.setFrameShape(QFrame.Shape.StyledPanel)
        guide_layout = QHBoxLayout(self.guide)
        guide_layout.setContentsMargins(14, 10, 14, 10)
        self.guide_text = QLabel(
            "<b>Welcome!</b> Moshi needs a model to talk. Download one of Kyutai's models "
            "(about 5 GB for the 4-bit version), import a folder, or try the demo model "
            "(random weights: it only makes noise).")
        self.guide_text.setWordWrap(True)
        self.guide_models_button = QPushButton("Get a model…")
        self.guide_demo_button = QPushButton("Try the demo (noise)")
        guide_layout.addWidget(self.guide_text, 1)
        guide_layout.addWidget(self.guide_models_button)
        guide_layout.addWidget(self.guide_demo_button)
        outer.addWidget(self.guide)

        # Model and devices.
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(8)
        self.model_label = QLabel("No model")
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.models_button = QPushButton("Models…")
        grid.addWidget(_label("Model", secondary=True), 0, 0)
        grid.addWidget(self.model_label, 0, 1, 1, 2)
        grid.addWidget(self.models_button, 0, 3)
        self.input_combo = QComboBox()
        self.output_combo = QComboBox()
        for combo in (self.input_combo, self.output_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(18)
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for audio devices again (changes apply to the next conversation)")
        self.aec_check = QCheckBox("Echo cancellation")
        self.aec_check.setToolTip("Remove Moshi's own voice from the microphone (for laptop speakers)")
        grid.addWidget(_label("Microphone", secondary=True), 1, 0)
        grid.addWidget(self.input_combo, 1, 1)
        grid.addWidget(_label("Speaker", secondary=True), 2, 0)
        grid.addWidget(self.output_combo, 2, 1)
        grid.addWidget(self.refresh_button, 1, 2)
        grid.addWidget(self.aec_check, 2, 2, 1, 2)
        grid.setColumnStretch(1, 1)
        outer.addLayout(grid)

        # Transcript.
        self.transcript_view = QTextEdit()
        self.transcript_view.setReadOnly(True)
        self.transcript_view.setPlaceholderText("Moshi's words appear here during a conversation.")
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont)
        font.setPointSizeF(max(font.pointSizeF(), 10) * 1.35)
        self.transcript_view.setFont(font)
        self.transcript_view.document().setDocumentMargin(10)
        outer.addWidget(self.transcript_view, 1)

        # Meters.
        meters = QGridLayout()
        meters.setHorizontalSpacing(10)
        self.input_meter = LevelMeter()
        self.output_meter = LevelMeter()
        meters.addWidget(_label("You", secondary=True), 0, 0)
        meters.addWidget(self.input_meter, 0, 1)
        meters.addWidget(_label("Moshi", secondary=True), 1, 0)
        meters.addWidget(self.output_meter, 1, 1)
        outer.addLayout(meters)

        # Controls.
        controls = QHBoxLayout()
        controls.setSpacing(12)
        self.start_button = QPushButton("Start conversation")
        self.start_button.setMinimumHeight(48)
        self.start_button.setMinimumWidth(260)
        big = self.start_button.font()
        big.setPointSizeF(max(big.pointSizeF(), 10) * 1.3)
        big.setBold(True)
        self.start_button.setFont(big)
        self.start_button.setDefault(True)
        self.record_check = QCheckBox("Record")
        self.record_check.setToolTip("Save both voices as WAV files in the recording folder")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the last conversation's recording and transcript")
        controls.addStretch(1)
        controls.addWidget(self.start_button)
        controls.addWidget(self.record_check)
        controls.addWidget(self.export_button)
        controls.addStretch(1)
        outer.addLayout(controls)

        # Status line.
        bar = self.statusBar()
        self.state_label = _label("Ready")
        self.rtf_label = _label("RTF –")
        self.latency_label = _label("latency –")
        self.dropped_label = _label("dropped 0")
        self.underruns_label = _label("underruns 0")
        bar.addWidget(self.state_label, 1)
        for w in (self.rtf_label, self.latency_label, self.dropped_label, self.underruns_label):
            bar.addPermanentWidget(w)
        self.rtf_label.setToolTip("Real-time factor: processing time per 80 ms frame / 80 ms (below 1 keeps up)")
        self.latency_label.setToolTip("From your voice reaching the microphone to Moshi's answer being queued")

        # Menus.
        file_menu = self.menuBar().addMenu("&File")
        self.export_action = QAction("Export Conversation…", self)
        self.export_action.setShortcut(QKeySequence.StandardKey.Save)
        self.settings_action = QAction("Settings…", self)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        for a in (self.export_action, self.settings_action, self.quit_action):
            file_menu.addAction(a)
        models_menu = self.menuBar().addMenu("&Models")
        self.models_action = QAction("Model Manager…", self)
        models_menu.addAction(self.models_action)
        self._conversation_count = 0

    # -- state shown -------------------------------------------------------------------------
    def set_running(self, running: bool, busy: bool = False) -> None:
        """running: a conversation is on (button says Stop); busy: starting/stopping (disabled)."""
        self.start_button.setText("Stop conversation" if running else "Start conversation")
        self.start_button.setEnabled(not busy)
        for w in (self.input_combo, self.output_combo, self.refresh_button, self.models_button,
                  self.models_action, self.record_check, self.aec_check):
            w.setEnabled(not running and not busy)

    def set_state_text(self, text: str) -> None:
        self.state_label.setText(text)

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)

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

    def closeEvent(self, event) -> None:
        self.closing.emit()
        super().closeEvent(event)
