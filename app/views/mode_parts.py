"""Widgets every mode page reuses: the model picker (with its first-launch guide) and the audio
device pickers. Layout and filling only; the mode's controller (app/modes/base.py) wires them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)


def label(text: str = "", *, secondary: bool = False) -> QLabel:
    w = QLabel(text)
    if secondary:
        w.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return w


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with an ellipsis in the middle when space is short
    (the whole text stays in the tooltip and for VoiceOver)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self.setToolTip(text)
        self.setAccessibleDescription(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, max(self.width(), 40))
        super().setText(shown)


class ModelPicker(QWidget):
    """'Model: <name> [Models…]' and, while the mode has no model, a guide to get one."""

    def __init__(self, what_for: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.guide = QFrame()
        self.guide.setFrameShape(QFrame.Shape.StyledPanel)
        guide_layout = QHBoxLayout(self.guide)
        guide_layout.setContentsMargins(14, 10, 14, 10)
        self.guide_text = QLabel(f"<b>No model yet - download one.</b> {what_for}")
        self.guide_text.setWordWrap(True)
        self.guide_models_button = QPushButton("Get a model…")
        self.guide_demo_button = QPushButton("Try the demo (noise)")
        self.guide_demo_button.setToolTip("A tiny model with random weights: it runs anywhere but only "
                                          "makes noise and random words")
        guide_layout.addWidget(self.guide_text, 1)
        guide_layout.addWidget(self.guide_models_button)
        guide_layout.addWidget(self.guide_demo_button)
        layout.addWidget(self.guide)
        row = QHBoxLayout()
        row.setSpacing(10)
        self.model_label = ElidedLabel("No model")
        self.model_label.setAccessibleName("Model")
        self.models_button = QPushButton("Models…")
        self.models_button.setToolTip("Download, import or choose a model for this mode")
        row.addWidget(label("Model", secondary=True))
        row.addWidget(self.model_label, 1)
        row.addWidget(self.models_button)
        layout.addLayout(row)

    def show_model(self, text: str, has_model: bool) -> None:
        self.guide.setVisible(not has_model)
        self.model_label.setText(text)


class DevicePicker(QWidget):
    """Microphone and/or speaker lists with a Refresh button. `grid` is open for extra controls."""

    def __init__(self, inputs: bool = True, outputs: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(10)
        self.grid.setVerticalSpacing(8)
        self.input_combo = QComboBox() if inputs else None
        self.output_combo = QComboBox() if outputs else None
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for audio devices again (changes apply to the next session)")
        self.refresh_button.setAccessibleName("Refresh audio devices")
        row = 0
        for combo, name in ((self.input_combo, "Microphone"), (self.output_combo, "Speaker")):
            if combo is None:
                continue
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(16)
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            combo.setAccessibleName(name)
            self.grid.addWidget(label(name, secondary=True), row, 0)
            self.grid.addWidget(combo, row, 1)
            row += 1
        self.grid.addWidget(self.refresh_button, 0, 2)
        self.grid.setColumnStretch(1, 1)

    def combos(self) -> list[QComboBox]:
        return [c for c in (self.input_combo, self.output_combo) if c is not None]

    def fill(self, devices: list, chosen_input: str, chosen_output: str) -> None:
        """List the devices with input (output) channels; keep a remembered one that is not plugged
        in now, marked as such."""
        for combo, kind, chosen in ((self.input_combo, "input", chosen_input),
                                    (self.output_combo, "output", chosen_output)):
            if combo is not None:
                _fill_combo(combo, devices, kind, chosen)


def _fill_combo(combo: QComboBox, devices: list, kind: str, chosen: str) -> None:
    usable = [d for d in devices if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
    default = next((d for d in usable if (d.is_default_input if kind == "input" else d.is_default_output)), None)
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(f"System default ({default.name})" if default else "System default", "")
    for d in usable:
        combo.addItem(d.name + ("  (built-in)" if d.is_builtin else ""), d.name)
    index = combo.findData(chosen) if chosen else 0
    if chosen and index < 0:
        combo.addItem(f"{chosen} (not connected)", chosen)
        index = combo.count() - 1
    combo.setCurrentIndex(max(index, 0))
    combo.blockSignals(False)
