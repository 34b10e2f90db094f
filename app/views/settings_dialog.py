"""Settings: sampling, seed, recordings, the global shortcut (shown and returned as AppSettings; the
shell saves them on OK), and the "Other devices" page (views/sharing_panel.py, which acts at once)."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from ..settings import AppSettings


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None, shortcut_text: str = "",
                 shortcut_error: str = "", sharing=None, extra_pages: list | None = None) -> None:
        """`sharing`: app/sharing.py's Sharing, for the "Other devices" page (none without it);
        `extra_pages`: (title, widget) pages of the modes (Tools), which act at once."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._base = settings
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 16, 18, 14)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Settings pages")
        outer.addWidget(self.tabs)
        general = QWidget()
        layout = QVBoxLayout(general)
        layout.setSpacing(12)
        self.tabs.addTab(general, "General")
        self.sharing_panel = None
        if sharing is not None:
            from .sharing_panel import SharingPanel

            self.sharing_panel = SharingPanel(sharing)
            self.tabs.addTab(self.sharing_panel, "Other devices")
        for title, page in extra_pages or ():
            self.tabs.addTab(page, title)

        sampling = QGroupBox("Talk: sampling")
        form = QFormLayout(sampling)
        self.text_temperature = self._spin_float(settings.text_temperature)
        self.text_top_k = self._spin_int(settings.text_top_k, 1, 32000)
        self.audio_temperature = self._spin_float(settings.audio_temperature)
        self.audio_top_k = self._spin_int(settings.audio_top_k, 1, 2048)
        self.fixed_seed = QCheckBox("Fixed seed")
        self.seed = self._spin_int(settings.seed if settings.seed is not None else 42, 0, 2**31 - 1)
        self.fixed_seed.setChecked(settings.seed is not None)
        self.seed.setEnabled(settings.seed is not None)
        self.fixed_seed.toggled.connect(self.seed.setEnabled)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.fixed_seed)
        seed_row.addWidget(self.seed, 1)
        form.addRow("Text temperature", self.text_temperature)
        form.addRow("Text top-k", self.text_top_k)
        form.addRow("Audio temperature", self.audio_temperature)
        form.addRow("Audio top-k", self.audio_top_k)
        form.addRow("Seed", seed_row)
        layout.addWidget(sampling)

        recording = QGroupBox("Recordings")
        rform = QFormLayout(recording)
        self.record_dir = QLineEdit(settings.record_dir)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        dir_row = QHBoxLayout()
        dir_row.addWidget(self.record_dir, 1)
        dir_row.addWidget(browse)
        self.record_dir.setAccessibleName("Recordings folder")
        browse.setAccessibleName("Choose the recordings folder")
        self.auto_record = QCheckBox("Record every session")
        self.auto_record.setChecked(settings.auto_record)
        rform.addRow("Folder", dir_row)
        rform.addRow("", self.auto_record)
        layout.addWidget(recording)

        anywhere = QGroupBox("From any app")
        aform = QFormLayout(anywhere)
        self.global_shortcut = QCheckBox(f"Start or stop with {shortcut_text or 'a global shortcut'}")
        self.global_shortcut.setChecked(settings.global_shortcut)
        self.global_shortcut.setToolTip("Works while Moshi is in the background (macOS; no permission needed)")
        aform.addRow(self.global_shortcut)
        if shortcut_error and settings.global_shortcut:
            note = QLabel(f"Not active: {shortcut_error}.")
            note.setWordWrap(True)
            note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            aform.addRow(note)
        layout.addWidget(anywhere)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self._defaults)
        outer.addWidget(buttons)

    @staticmethod
    def _spin_float(value: float) -> QDoubleSpinBox:
        w = QDoubleSpinBox()
        w.setRange(0.0, 2.0)
        w.setSingleStep(0.05)
        w.setDecimals(2)
        w.setValue(value)
        return w

    @staticmethod
    def _spin_int(value: int, lo: int, hi: int) -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setValue(value)
        return w

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Recording folder", self.record_dir.text())
        if folder:
            self.record_dir.setText(folder)

    def _defaults(self) -> None:
        d = AppSettings()
        self.text_temperature.setValue(d.text_temperature)
        self.text_top_k.setValue(d.text_top_k)
        self.audio_temperature.setValue(d.audio_temperature)
        self.audio_top_k.setValue(d.audio_top_k)
        self.fixed_seed.setChecked(False)
        self.record_dir.setText(d.record_dir)
        self.auto_record.setChecked(d.auto_record)
        self.global_shortcut.setChecked(d.global_shortcut)

    def result_settings(self) -> AppSettings:
        """The settings as edited (the ones this dialog does not show are kept)."""
        return self._base.replace(
            text_temperature=round(self.text_temperature.value(), 4),
            text_top_k=self.text_top_k.value(),
            audio_temperature=round(self.audio_temperature.value(), 4),
            audio_top_k=self.audio_top_k.value(),
            seed=self.seed.value() if self.fixed_seed.isChecked() else None,
            record_dir=self.record_dir.text().strip() or AppSettings().record_dir,
            auto_record=self.auto_record.isChecked(),
            global_shortcut=self.global_shortcut.isChecked())
