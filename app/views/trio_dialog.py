"""The Assistant's models, chosen together: speech to text, the chat model (any mlx-lm repo or
folder too), text to speech; each with its size and whether it is downloaded, and whether the three
fit this Mac's memory (a warning when they do not). Layout and filling; app/modes/assistant.py
decides what OK does."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QGridLayout, QLabel,
                               QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from ..modes.assistant_models import Choice, TrioChoices

_FIT_STYLE = {"ok": "", "tight": "color:#b26b00", "too_big": "color:#c62828; font-weight:bold"}


class TrioDialog(QDialog):
    def __init__(self, choices: TrioChoices, current: tuple[str, str, str], total_memory: int | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Assistant models")
        self.choices = choices
        self.total_memory = total_memory
        layout = QVBoxLayout(self)
        intro = QLabel("The assistant hears with a speech-to-text model, thinks with a chat model "
                       "(any mlx-lm model) and speaks with a text-to-speech model.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        grid = QGridLayout()
        layout.addLayout(grid)
        self.stt_combo = self._combo("Speech to text", choices.slot("stt"), current[0])
        self.llm_combo = self._combo("Chat model", choices.chat_models(), current[1])
        self.llm_combo.setEditable(True)  # any mlx-lm repo id or folder
        self.llm_combo.lineEdit().setPlaceholderText("an mlx-lm repo (mlx-community/…) or a folder")
        self.llm_combo.setToolTip("A listed model, or type any mlx-lm repo id, or pick a folder")
        self.tts_combo = self._combo("Text to speech", choices.slot("tts"), current[2])
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setAccessibleName("Use a chat model folder")
        self.folder_button.clicked.connect(lambda: self.pick_folder())
        for row, (name, combo) in enumerate((("Hears with", self.stt_combo), ("Thinks with", self.llm_combo),
                                             ("Speaks with", self.tts_combo))):
            grid.addWidget(QLabel(name), row, 0)
            grid.addWidget(combo, row, 1)
            combo.currentIndexChanged.connect(self.show_fit)
        grid.addWidget(self.folder_button, 1, 2)
        self.llm_combo.editTextChanged.connect(self.show_fit)
        grid.setColumnStretch(1, 1)
        self.fit_label = QLabel()
        self.fit_label.setWordWrap(True)
        self.fit_label.setAccessibleName("Memory")
        layout.addWidget(self.fit_label)
        self.download_label = QLabel()
        self.download_label.setWordWrap(True)
        layout.addWidget(self.download_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.manage_button = self.buttons.addButton("Downloads…", QDialogButtonBox.ButtonRole.ActionRole)
        self.manage_button.setToolTip("Download or import Kyutai's models (the model manager)")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.resize(620, 300)
        self.show_fit()

    def _combo(self, name: str, choices: list[Choice], spec: str) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        combo.setMinimumContentsLength(30)
        for c in choices:
            combo.addItem(c.text(), c.spec)
        index = combo.findData(spec)
        if index < 0 and spec:
            combo.addItem(self.choices.find(choices, spec).text(), spec)
            index = combo.count() - 1
        combo.setCurrentIndex(max(index, 0))
        combo.setProperty("choices", choices)
        return combo

    def _spec(self, combo: QComboBox) -> str:
        if combo.isEditable() and combo.currentText() != combo.itemText(combo.currentIndex()):
            return combo.currentText().strip()  # typed: a repo id or a folder
        return combo.currentData() or ""

    def trio(self) -> tuple[str, str, str]:
        return self._spec(self.stt_combo), self._spec(self.llm_combo), self._spec(self.tts_combo)

    def set_trio(self, stt: str, llm: str, tts: str) -> None:
        for combo, spec in ((self.stt_combo, stt), (self.llm_combo, llm), (self.tts_combo, tts)):
            index = combo.findData(spec)
            if index >= 0:
                combo.setCurrentIndex(index)
            elif combo.isEditable():
                combo.setEditText(spec)

    def picked(self) -> list[Choice]:
        stt, llm, tts = self.trio()
        c = self.choices
        return [c.find(c.slot("stt"), stt), c.find(c.chat_models(), llm), c.find(c.slot("tts"), tts)]

    def pick_folder(self, folder: str | None = None) -> None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "A chat model folder (mlx-lm)")
            if not folder:
                return
        self.llm_combo.setEditText(folder)

    def show_fit(self, *_args) -> None:
        picked = self.picked()
        level, sentence = self.choices.fit(picked, self.total_memory)
        self.fit_level = level
        warn = "Too big for this Mac: " if level == "too_big" else ""
        self.fit_label.setText(f'<span style="{_FIT_STYLE.get(level, "")}">{warn}{sentence}.</span>')
        self.fit_label.setTextFormat(Qt.TextFormat.RichText)
        missing = [c.label for c in picked if c.spec and not c.installed]
        self.download_label.setText(
            ("Not downloaded yet: " + ", ".join(missing) + ". Download them in Downloads… (a chat model "
             "that is not listed there downloads when the assistant first starts).") if missing else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.trio()[1]))
