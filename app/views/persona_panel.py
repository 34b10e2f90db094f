"""The Talk page's persona panel (PersonaPlex models): the current persona, a voice with its
preview and "Use my voice…", a role with presets, saved personas. Layout only; app/persona_picker.py
wires it. Compact (three rows) so the Talk page still fits 800x600."""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPlainTextEdit,
                               QPushButton, QSizePolicy, QWidget)

DEFAULT_VOICE = "Model's default voice"


def _named(widget: QWidget, name: str, tip: str = "") -> QWidget:
    widget.setAccessibleName(name)
    if tip:
        widget.setToolTip(tip)
    return widget


class PersonaPanel(QGroupBox):
    def __init__(self) -> None:
        super().__init__("Persona")
        self.setAccessibleName("Persona")
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 6, 10, 6)
        grid.setVerticalSpacing(4)
        self.current_label = _named(QLabel(""), "Current persona")
        self.current_label.setWordWrap(False)
        self.current_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        grid.addWidget(self.current_label, 0, 0, 1, 4)

        grid.addWidget(QLabel("Voice"), 1, 0)
        self.voice_combo = _named(QComboBox(), "Voice", "The voice the model speaks with")
        self.voice_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.voice_combo.setMinimumContentsLength(14)
        self.preview_button = _named(QPushButton("Preview"), "Preview the voice",
                                     "Hear a few seconds of this voice")
        self.record_button = _named(QPushButton("Use my voice…"), "Use my voice",
                                    "Record 5–10 s of yourself speaking and save it as a voice")
        voice_row = QHBoxLayout()
        voice_row.addWidget(self.voice_combo, 1)
        voice_row.addWidget(self.preview_button)
        voice_row.addWidget(self.record_button)
        grid.addLayout(voice_row, 1, 1, 1, 3)

        grid.addWidget(QLabel("Role"), 2, 0)
        self.preset_combo = _named(QComboBox(), "Role preset", "Fill the role with a ready-made one")
        self.saved_combo = _named(QComboBox(), "Saved personas", "A persona you saved (voice and role)")
        self.save_button = _named(QPushButton("Save…"), "Save this persona",
                                  "Save this voice and role under a name")
        self.delete_button = _named(QPushButton("Delete"), "Delete the saved persona")
        role_row = QHBoxLayout()
        role_row.addWidget(self.preset_combo, 1)
        role_row.addWidget(self.saved_combo, 1)
        role_row.addWidget(self.save_button)
        role_row.addWidget(self.delete_button)
        grid.addLayout(role_row, 2, 1, 1, 3)

        self.role_edit = _named(QPlainTextEdit(), "Role text",
                                "Who the model is and what it does (empty: the model's own manner)")
        self.role_edit.setPlaceholderText("Who the model is, e.g. “You are a patient language tutor…”")
        self.role_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        grid.addWidget(self.role_edit, 3, 0, 1, 4)
        grid.setColumnStretch(1, 1)

    def controls(self) -> tuple[QWidget, ...]:
        return (self.voice_combo, self.preview_button, self.record_button, self.preset_combo,
                self.saved_combo, self.save_button, self.delete_button, self.role_edit)

    def set_locked(self, locked: bool) -> None:
        """The persona stays as it is while a conversation starts, runs or stops."""
        for w in self.controls():
            w.setEnabled(not locked)
        self.delete_button.setEnabled(not locked and bool(self.saved_combo.currentData()))

    def fill_voices(self, voices: list[tuple[str, str, str]], current: str) -> None:
        """`voices`: (value, label, tooltip); the first entry is always the model's default."""
        combo = self.voice_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(DEFAULT_VOICE, "")
        for value, label, tip in voices:
            combo.addItem(label, value)
            combo.setItemData(combo.count() - 1, tip, 3)  # Qt.ToolTipRole
        index = combo.findData(current)
        if index < 0 and current:  # a voice not (or no longer) there: kept, shown as such
            combo.addItem(f"{current} (not found)", current)
            index = combo.count() - 1
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def fill_saved(self, names: list[str], current: str = "") -> None:
        combo = self.saved_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Saved personas…" if names else "No saved personas", "")
        for name in names:
            combo.addItem(name, name)
        combo.setCurrentIndex(max(combo.findData(current), 0))
        combo.blockSignals(False)
        self.delete_button.setEnabled(bool(current))
