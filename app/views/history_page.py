"""The History page: recorded sessions (search, list), and the one opened: its transcript with
timestamps, a player with a position slider, rename / export / reveal / trash. Layout only;
app/controllers/history_controller.py fills and wires it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QListWidget, QPushButton, QSlider, QSplitter, QStackedWidget,
                               QTreeWidget, QVBoxLayout, QWidget)

from .mode_parts import ElidedLabel, label
from .shell_window import REVEAL_LABEL

COLUMNS = ("Date", "Mode", "Model", "Duration", "First words")


class HistoryPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 14, 20, 12)
        outer.setSpacing(10)
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search recordings: words said, model, mode, date")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search recordings")
        self.folder_label = ElidedLabel()
        self.folder_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.folder_label.setAccessibleName("Recordings folder")
        top.addWidget(self.search, 3)
        top.addWidget(self.folder_label, 2)
        outer.addLayout(top)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        self.list_stack = QStackedWidget()
        self.sessions = QTreeWidget()
        self.sessions.setColumnCount(len(COLUMNS))
        self.sessions.setHeaderLabels(COLUMNS)
        self.sessions.setRootIsDecorated(False)
        self.sessions.setUniformRowHeights(True)
        self.sessions.setAlternatingRowColors(True)
        self.sessions.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.sessions.setAccessibleName("Recordings")
        header = self.sessions.header()
        header.setStretchLastSection(True)
        for c in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAccessibleName("No recordings")
        self.list_stack.addWidget(self.sessions)
        self.list_stack.addWidget(self.empty_label)
        splitter.addWidget(self.list_stack)

        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 6, 0, 0)
        dl.setSpacing(8)
        self.title_label = QLabel("")
        bold = QFont(self.title_label.font())
        bold.setBold(True)
        bold.setPointSizeF(max(bold.pointSizeF(), 10) * 1.15)
        self.title_label.setFont(bold)
        self.title_label.setAccessibleName("Recording title")
        self.info_label = label("", secondary=True)
        self.info_label.setAccessibleName("Recording details")
        dl.addWidget(self.title_label)
        dl.addWidget(self.info_label)
        self.transcript = QListWidget()
        self.transcript.setAccessibleName("Transcript: click a line to play from there")
        self.transcript.setWordWrap(True)
        self.transcript.setToolTip("Click a line to play the recording from there")
        dl.addWidget(self.transcript, 1)
        player = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setAccessibleName("Play")
        self.position_slider = QSlider(Qt.Orientation.Horizontal)
        self.position_slider.setAccessibleName("Playback position")
        self.position_slider.setRange(0, 0)
        self.position_slider.setSingleStep(5000)  # arrow keys: 5 s (the value is in ms)
        self.position_slider.setPageStep(15000)
        self.time_label = label("0:00 / 0:00", secondary=True)
        self.time_label.setAccessibleName("Playback time")
        player.addWidget(self.play_button)
        player.addWidget(self.position_slider, 1)
        player.addWidget(self.time_label)
        dl.addLayout(player)
        actions = QHBoxLayout()
        self.rename_button = QPushButton("Rename…")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the recording (.wav) and its transcript (.txt and .srt subtitles)")
        self.reveal_button = QPushButton(REVEAL_LABEL)
        self.delete_button = QPushButton("Move to Trash")
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Continue this conversation with the assistant (it reads it again)")
        self.continue_button.setAccessibleName("Continue this conversation in the Assistant")
        self.continue_button.hide()  # assistant sessions only
        for b in (self.rename_button, self.export_button, self.reveal_button, self.continue_button):
            actions.addWidget(b)
        actions.addStretch(1)
        actions.addWidget(self.delete_button)
        dl.addLayout(actions)
        self.detail = detail
        splitter.addWidget(detail)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        self.splitter = splitter
        outer.addWidget(splitter, 1)
        self.show_session(None)

    def show_empty(self, text: str | None) -> None:
        """A sentence instead of the list (no recordings, or none matching), or the list."""
        if text:
            self.empty_label.setText(text)
            self.list_stack.setCurrentWidget(self.empty_label)
        else:
            self.list_stack.setCurrentWidget(self.sessions)

    def show_session(self, title: str | None, info: str = "") -> None:
        """The opened session's heading; None: nothing opened (controls disabled)."""
        self.title_label.setText(title if title is not None else "No recording opened")
        self.info_label.setText(info if title is not None else "Pick a recording above to read and play it.")
        for w in (self.play_button, self.position_slider, self.rename_button, self.export_button,
                  self.reveal_button, self.delete_button, self.transcript):
            w.setEnabled(title is not None)
        if title is None:
            self.transcript.clear()
            self.set_position(0.0, 0.0)

    def set_position(self, position_s: float, duration_s: float) -> None:
        from ..history import clock

        slider = self.position_slider
        if not slider.isSliderDown():
            slider.blockSignals(True)
            slider.setRange(0, int(duration_s * 1000))
            slider.setValue(int(position_s * 1000))
            slider.blockSignals(False)
        self.time_label.setText(f"{clock(position_s)} / {clock(round(duration_s))}")

    def set_playing(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        self.play_button.setAccessibleName("Pause" if playing else "Play")
