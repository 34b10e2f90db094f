"""The Read aloud page: model and speaker on top, the voice, the text (pasted, typed or opened) with
the word being heard highlighted, Read Aloud/Stop, Pause, Save as WAV…, Record, and a status line.
Layout and drawing only; app/modes/read_aloud.py wires it."""

from __future__ import annotations

from itertools import accumulate

from PySide6.QtGui import QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPlainTextEdit, QPushButton, QSizePolicy, QTextEdit

from ..views.mode_parts import DevicePicker, ModelPicker, SessionPage, big_button, label

PLACEHOLDER = ("Paste or type the text to read here, or open a text file. Kyutai's TTS models read "
               "English and French.")


class ReadAloudPage(SessionPage):
    def __init__(self, model_picker: ModelPicker, device_picker: DevicePicker) -> None:
        super().__init__(model_picker, device_picker, [], "Reading state", ("rtf", "underruns"))
        outer = self.outer
        self.voice_combo = QComboBox()
        self.voice_combo.setEditable(True)  # any voice of kyutai/tts-voices, or a voice file
        self.voice_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.voice_combo.setMinimumContentsLength(16)
        self.voice_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.voice_combo.setAccessibleName("Voice")
        self.voice_combo.setToolTip("The voice: one of the model's, or any name of kyutai/tts-voices "
                                    "(downloaded when first used), or the path of a voice file")
        self.voices_button = QPushButton("Online…")
        self.voices_button.setToolTip("List every voice of kyutai/tts-voices made for this model")
        self.voices_button.setAccessibleName("List the online voices")
        device_picker.grid.addWidget(label("Voice", secondary=True), 1, 0)
        device_picker.grid.addWidget(self.voice_combo, 1, 1)
        device_picker.grid.addWidget(self.voices_button, 1, 2)
        self.voice2_combo = QComboBox()  # a dialogue's second voice ("" = one voice)
        self.voice2_combo.setEditable(True)
        self.voice2_combo.setSizeAdjustPolicy(self.voice_combo.sizeAdjustPolicy())
        self.voice2_combo.setMinimumContentsLength(16)
        self.voice2_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.voice2_combo.lineEdit().setPlaceholderText("None (a dialogue: each line is a turn of the next voice)")
        self.voice2_combo.setAccessibleName("Second voice, for a dialogue")
        self.voice2_combo.setToolTip("Leave empty for one voice. With a second voice the text is a "
                                     "dialogue: each non-empty line is a turn, alternating between the voices")
        device_picker.grid.addWidget(label("Second voice", secondary=True), 2, 0)
        device_picker.grid.addWidget(self.voice2_combo, 2, 1)

        self.text_edit = QPlainTextEdit()
        self.text_edit.setPlaceholderText(PLACEHOLDER)
        self.text_edit.setAccessibleName("Text to read")
        outer.addWidget(self.text_edit, 1)

        controls = QHBoxLayout()
        controls.setSpacing(12)
        self.open_button = QPushButton("Open Text…")
        self.open_button.setToolTip("Read a text file (UTF-8) into the text box")
        self.open_button.setAccessibleName("Open a text file")
        self.start_button = big_button("Read Aloud", 180)
        self.start_button.setAccessibleName("Read aloud or stop")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setAccessibleName("Pause or resume")
        self.save_button = QPushButton("Save as WAV…")
        self.save_button.setToolTip("Save the reading just heard as a WAV file, or speak the text into one "
                                    "(without playing it) if it changed since")
        self.save_button.setAccessibleName("Save the speech as a WAV file")
        self.record_check = QCheckBox("Record")
        self.record_check.setToolTip("Keep each reading (its speech and words) in the recordings folder, "
                                     "listed in History")
        controls.addWidget(self.open_button)
        controls.addStretch(1)
        controls.addWidget(self.start_button)
        controls.addWidget(self.pause_button)
        controls.addStretch(1)
        controls.addWidget(self.save_button)
        controls.addWidget(self.record_check)
        outer.addLayout(controls)
        self.rtf_label, self.underruns_label = (self.status.labels[k] for k in ("rtf", "underruns"))
        outer.addWidget(self.status)
        self._offsets: list[int] | None = None

    def set_running(self, running: bool, busy: bool = False) -> None:
        self.start_button.setText("Stop" if running else "Read Aloud")
        self.start_button.setEnabled(not busy)
        self.pause_button.setEnabled(running and not busy)
        if not running:
            self.pause_button.setText("Pause")
        self.lock_setup(running or busy, self.voice_combo, self.voice2_combo, self.voices_button,
                        self.open_button, self.save_button)
        self.text_edit.setReadOnly(running or busy)

    def set_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")

    # -- the word being heard ---------------------------------------------------------------------
    def begin_reading(self, text: str) -> None:
        """`text` (the box's text, as given to the engine) is read from now on: word spans index it."""
        self.clear_highlight()
        # Qt counts UTF-16 units: characters beyond the BMP take two
        self._offsets = None if all(ord(c) < 0x10000 for c in text) else \
            [0, *accumulate(2 if ord(c) >= 0x10000 else 1 for c in text)]

    def highlight(self, start: int, end: int) -> None:
        if self._offsets is not None:
            start, end = self._offsets[min(start, len(self._offsets) - 1)], self._offsets[min(end, len(self._offsets) - 1)]
        cursor = QTextCursor(self.text_edit.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        selection = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        palette = self.text_edit.palette()
        fmt.setBackground(palette.color(QPalette.ColorRole.Highlight))
        fmt.setForeground(palette.color(QPalette.ColorRole.HighlightedText))
        selection.format, selection.cursor = fmt, cursor
        self.text_edit.setExtraSelections([selection])
        view = QTextCursor(self.text_edit.document())
        view.setPosition(end)
        self.text_edit.setTextCursor(view)  # keeps the word in sight
        self.text_edit.ensureCursorVisible()

    def clear_highlight(self) -> None:
        self.text_edit.setExtraSelections([])

    def highlighted(self) -> str:
        """The word highlighted now ("" when none)."""
        found = self.text_edit.extraSelections()
        return found[0].cursor.selectedText() if found else ""
