"""The Assistant page: the model trio and devices on top, voice and character, the conversation
(app/views/chat_view.py) beside the timers and reminders, a box to type in with Send and Stop, the
Start/End button, Record, New conversation and a status line. Layout only; app/modes/assistant.py
wires it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLineEdit, QListWidget, QPushButton,
                               QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from ..views.chat_view import ChatView
from ..views.mode_parts import DevicePicker, ModelPicker, SessionPage, big_button, label

PHASES = {"listening": "Listening", "thinking": "Thinking…", "speaking": "Speaking", "tool": "Using a tool…"}


class AssistantPage(SessionPage):
    def __init__(self, model_picker: ModelPicker, device_picker: DevicePicker) -> None:
        super().__init__(model_picker, device_picker, [("You", "Your voice level"),
                                                      ("Assistant", "The assistant's voice level")],
                         "Assistant state", ())
        outer = self.outer
        outer.setSpacing(8)
        grid = device_picker.grid
        self.voice_combo = QComboBox()
        self.voice_combo.setEditable(True)
        self.voice_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.voice_combo.setMinimumContentsLength(12)
        self.voice_combo.setAccessibleName("Voice")
        self.voice_combo.setToolTip("The assistant's voice: one of the TTS model's, or any name of kyutai/tts-voices")
        self.character_combo = QComboBox()
        self.character_combo.setAccessibleName("Character")
        self.character_combo.setToolTip("Who the assistant is: a preset, or your own system prompt")
        self.character_button = QPushButton("Edit…")
        self.character_button.setAccessibleName("Edit your own system prompt")
        self.character_button.setToolTip("Write your own system prompt (saved)")
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self.voice_combo, 1)
        row.addWidget(label("Character", secondary=True))
        row.addWidget(self.character_combo, 1)
        row.addWidget(self.character_button)
        grid.addWidget(label("Voice", secondary=True), 2, 0)
        grid.addLayout(row, 2, 1, 1, 2)

        self.chat = ChatView()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(6)
        side_layout.addWidget(label("Timers and reminders", secondary=True))
        self.reminders = QListWidget()
        self.reminders.setAccessibleName("Timers and reminders")
        self.reminders.setWordWrap(True)
        self.reminders.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.reminders.setToolTip("Set by asking the assistant (\"remind me in ten minutes…\")")
        self.cancel_reminder_button = QPushButton("Cancel")
        self.cancel_reminder_button.setAccessibleName("Cancel the chosen timer or reminder")
        self.cancel_reminder_button.setEnabled(False)
        self.reminders.currentRowChanged.connect(lambda row: self.cancel_reminder_button.setEnabled(row >= 0))
        self.reminders_empty = label("None set. Ask for one: “set a timer for ten minutes”.", secondary=True)
        self.reminders_empty.setWordWrap(True)
        side_layout.addWidget(self.reminders_empty)
        side_layout.addWidget(self.reminders, 1)
        side_layout.addWidget(self.cancel_reminder_button)
        side_layout.addWidget(self.meters)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.chat)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([560, 190])
        splitter.setChildrenCollapsible(False)
        side.setMinimumWidth(150)
        outer.addWidget(splitter, 1)

        typing = QHBoxLayout()
        typing.setSpacing(8)
        self.input_edit = QLineEdit()
        self.input_edit.setPlaceholderText("Type a message and press Return (or just speak)")
        self.input_edit.setAccessibleName("Message to the assistant")
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send the message")
        self.interrupt_button = QPushButton("Stop")
        self.interrupt_button.setAccessibleName("Stop the reply")
        self.interrupt_button.setToolTip("Stop the reply now (Esc)")
        self.interrupt_button.setEnabled(False)
        typing.addWidget(self.input_edit, 1)
        typing.addWidget(self.send_button)
        typing.addWidget(self.interrupt_button)
        outer.addLayout(typing)
        self.escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

        controls = QHBoxLayout()
        controls.setSpacing(12)
        self.new_button = QPushButton("New Conversation")
        self.new_button.setAccessibleName("Start a new conversation")
        self.new_button.setToolTip("Forget this conversation and start afresh")
        self.start_button = big_button("Start Assistant", 200)
        self.start_button.setAccessibleName("Start or end the assistant")
        self.record_check = QCheckBox("Record")
        self.record_check.setToolTip("Keep the session (both voices, the transcript with tool calls) "
                                     "in the recordings folder, listed in History")
        self.hold_check = QCheckBox("Hold to talk")
        self.hold_check.setAccessibleName("Push-to-talk: hold the shortcut while you speak")
        self.hold_check.setToolTip("Push-to-talk: the assistant hears you only while you hold Control-Option-M "
                                   "(in any app, or in this window); letting go sends what you said at once. "
                                   "Off: it hears you all the time and answers when you pause.")
        controls.addWidget(self.new_button)
        controls.addStretch(1)
        controls.addWidget(self.start_button)
        controls.addStretch(1)
        controls.addWidget(self.hold_check)
        controls.addWidget(self.record_check)
        outer.addLayout(controls)
        self.latency_label = label("latency –", secondary=True)
        self.latency_label.setToolTip("From the end of your words to the first sound of the reply")
        self.status.layout().addWidget(self.latency_label)
        outer.addWidget(self.status)

    def set_running(self, running: bool, busy: bool = False) -> None:
        self.start_button.setText("End Assistant" if running else "Start Assistant")
        self.start_button.setEnabled(not busy)
        self.lock_setup(running or busy, self.voice_combo, self.character_combo, self.character_button,
                        self.hold_check)
        if not running:
            self.set_phase("")

    def set_phase(self, phase: str) -> None:
        """listening / thinking / speaking / tool, or "" when no session runs."""
        self.interrupt_button.setEnabled(phase in ("thinking", "speaking", "tool"))
        if phase:
            self.set_state_text(PHASES.get(phase, phase))

    def set_latency(self, ms: float | None) -> None:
        self.latency_label.setText("latency –" if ms is None else f"latency {ms:.0f} ms")
