"""Widgets every mode page reuses: the model picker (with its first-launch guide), the audio
device pickers, the Start/Stop button, level meters and the status line with a session's numbers. Layout and filling only; the mode's controller (app/modes/base.py) wires them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)

from .level_meter import LevelMeter


def label(text: str = "", *, secondary: bool = False) -> QLabel:
    w = QLabel(text)
    if secondary:
        w.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return w


def big_button(text: str, min_width: int = 240) -> QPushButton:
    """A page's main Start/Stop button: large, bold, the default button."""
    button = QPushButton(text)
    button.setMinimumHeight(44)
    button.setMinimumWidth(min_width)
    font = button.font()
    font.setPointSizeF(max(font.pointSizeF(), 10) * 1.3)
    font.setBold(True)
    button.setFont(font)
    button.setDefault(True)
    return button


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


class LevelMeters(QWidget):
    """Labelled level meters, one per row: `rows` = (label, VoiceOver name)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        self.meters: list[LevelMeter] = []
        for i, (text, name) in enumerate(rows):
            meter = LevelMeter()
            meter.setAccessibleName(name)
            grid.addWidget(label(text, secondary=True), i, 0)
            grid.addWidget(meter, i, 1)
            self.meters.append(meter)

    def set_levels(self, *levels_db: float) -> None:
        for meter, db in zip(self.meters, levels_db):
            meter.set_level(db)

    def reset(self) -> None:
        for meter in self.meters:
            meter.reset()


_STATS = {  # key: (shown while no number has come, the number as shown, tooltip)
    "rtf": ("RTF –", lambda s: f"RTF {s.real_time_factor:.2f}",
            "Real-time factor: processing time per 80 ms frame / 80 ms (below 1 keeps up)"),
    "latency": ("latency –", lambda s: f"latency {s.latency_ms:.0f} ms",
                "From your voice reaching the microphone to the model's answer being queued"),
    "dropped": ("dropped 0", lambda s: f"dropped {s.dropped_frames}",
                "Input frames skipped because processing fell behind"),
    "underruns": ("underruns 0", lambda s: f"underruns {s.underruns}",
                  "Times the speaker had nothing to play"),
}


class StatusLine(QWidget):
    """A session's state in words, then the statistics asked for (`stats`: keys of _STATS) from
    the engine's StatsEvent."""

    def __init__(self, accessible_name: str, stats: tuple[str, ...] = ("rtf", "latency", "dropped", "underruns"),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(14)
        self.state_label = label("Ready")
        self.state_label.setAccessibleName(accessible_name)
        row.addWidget(self.state_label, 1)
        self.labels: dict[str, QLabel] = {}
        for key in stats:
            self.labels[key] = label(_STATS[key][0], secondary=True)
            self.labels[key].setToolTip(_STATS[key][2])
            row.addWidget(self.labels[key])

    def set_stats(self, stats) -> None:
        for key, w in self.labels.items():
            w.setText(_STATS[key][1](stats))

    def reset(self) -> None:
        for key, w in self.labels.items():
            w.setText(_STATS[key][0])


class SessionPage(QWidget):
    """A live mode's page (app/modes/live_mode.py): `outer`, a column holding the model picker and
    the device picker; a subclass adds its own parts below them and places `meters` and `status`
    (made here), and provides `start_button`, `record_check` and `set_running(running, busy)`."""

    def __init__(self, model_picker: ModelPicker, device_picker: DevicePicker, meters: list[tuple[str, str]],
                 status_name: str, stats: tuple[str, ...]) -> None:
        super().__init__()
        self.model_picker = model_picker
        self.device_picker = device_picker
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(20, 14, 20, 10)
        self.outer.setSpacing(12)
        self.outer.addWidget(model_picker)
        self.outer.addWidget(device_picker)
        self.meters = LevelMeters(meters)
        self.status = StatusLine(status_name, stats)
        self.state_label = self.status.state_label

    def lock_setup(self, locked: bool, *others: QWidget) -> None:
        """While a session starts, runs or stops, its model, devices and options stay as they are."""
        mp, dp = self.model_picker, self.device_picker
        for w in (*dp.combos(), dp.refresh_button, mp.models_button, mp.guide_models_button, mp.guide_demo_button,
                  self.record_check, *others):
            w.setEnabled(not locked)

    def set_state_text(self, text: str) -> None:
        self.state_label.setText(text)

    def set_levels(self, input_db: float, output_db: float) -> None:
        self.meters.set_levels(input_db, output_db)

    def set_stats(self, stats) -> None:
        self.status.set_stats(stats)

    def reset_stats(self) -> None:
        self.status.reset()
        self.meters.reset()
