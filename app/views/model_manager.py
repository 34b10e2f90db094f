"""The model manager dialog: known and local models grouped by kind (a heading row per kind),
download/import/convert with progress."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QHBoxLayout,
                               QHeaderView, QLabel, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)


# Groups beyond the model kinds: the Assistant's chat models (mlx-lm), listed for that mode only.
EXTRA_GROUPS = {"llm": "Assistant · chat model (mlx-lm; any repo or folder in Assistant > Models…)"}


@dataclass(frozen=True)
class ModelRow:
    spec: str  # what EngineOptions.model gets: repo id, folder, or "demo"
    label: str
    voice: str
    size: str
    status: str  # "Installed", "Not downloaded", "Local folder", "Built in"
    installed: bool
    fit: str  # 'ok' | 'tight' | 'too_big' | ''
    fit_text: str
    downloadable: bool
    kind: str = ""  # moshi_mlx.kinds name; "" = unknown (a folder whose config.json is unreadable)


COLUMNS = ("Model", "Voice", "Size", "Status", "On this Mac")
_FIT_COLORS = {"ok": QColor(60, 160, 80), "tight": QColor(200, 140, 30), "too_big": QColor(210, 60, 50)}


class ModelManagerDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(900, 560)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(10)
        self.memory_label = QLabel()
        self.memory_label.setWordWrap(True)
        layout.addWidget(self.memory_label)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setAccessibleName("Models")
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.hint_label = QLabel("")
        self.hint_label.setWordWrap(True)
        self.hint_label.setAccessibleName("About the selected model")
        layout.addWidget(self.hint_label)

        buttons = QHBoxLayout()
        self.use_button = QPushButton("Use This Model")
        self.download_button = QPushButton("Download")
        self.import_button = QPushButton("Import Folder…")
        self.convert_bits = QComboBox()
        self.convert_bits.addItem("4-bit", 4)
        self.convert_bits.addItem("8-bit", 8)
        self.convert_bits.addItem("bf16 (no quantization)", None)
        self.convert_bits.setAccessibleName("Precision of the converted model")
        self.convert_button = QPushButton("Convert PyTorch Checkpoint…")
        for w in (self.use_button, self.download_button, self.import_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        buttons.addWidget(self.convert_bits)
        buttons.addWidget(self.convert_button)
        layout.addLayout(buttons)

        job = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        job.addWidget(self.progress, 1)
        job.addWidget(self.cancel_button)
        layout.addLayout(job)
        self.job_label = QLabel("")
        self.job_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(self.job_label)
        self.set_job_visible(False)

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        self._rows: list[ModelRow] = []
        self._table_rows: list[ModelRow | None] = []  # per table row: its model, None for a heading

    # -- rows ---------------------------------------------------------------------------------
    def set_rows(self, rows: list[ModelRow], current: str = "") -> None:
        """Fill the table, one group per kind (in moshi_mlx.kinds order, unknown last)."""
        from moshi_mlx.kinds import KINDS

        from ..modes.labels import kind_mode_label

        selected = self.selected_spec()
        self._rows = list(rows)
        headings = {k.name: f"{kind_mode_label(k.name)} · {k.label}" for k in KINDS.values()} | EXTRA_GROUPS
        order = list(headings) + [""]
        groups = sorted({row.kind if row.kind in headings else "" for row in rows}, key=order.index)
        self._table_rows = []
        self.table.clearSpans()
        self.table.setRowCount(len(rows) + len(groups))
        for kind in groups:
            self._add_heading(headings[kind] if kind else "Other (kind unknown: its config.json could not be read)")
            for row in rows:
                if (row.kind if row.kind in headings else "") == kind:
                    self._add_row(row, current)
        for c in range(len(COLUMNS) - 1):
            self.table.resizeColumnToContents(c)
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), 380))
        if selected:
            self.select_spec(selected)

    def _add_heading(self, text: str) -> None:
        r = len(self._table_rows)
        self._table_rows.append(None)
        item = QTableWidgetItem(text)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # not selectable
        font = item.font()
        font.setBold(True)
        item.setFont(font)
        self.table.setItem(r, 0, item)
        for c in range(1, len(COLUMNS)):
            self.table.setItem(r, c, QTableWidgetItem(""))
            self.table.item(r, c).setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.table.setSpan(r, 0, 1, len(COLUMNS))

    def _add_row(self, row: ModelRow, current: str) -> None:
        r = len(self._table_rows)
        self._table_rows.append(row)
        label = "   " + row.label + ("  (current)" if row.spec == current and current else "")
        for c, text in enumerate((label, row.voice, row.size, row.status, row.fit_text)):
            item = QTableWidgetItem(text)
            item.setToolTip(row.spec if c == 0 else text)
            if c == 3 and row.installed:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            if c == 4 and row.fit in _FIT_COLORS:
                item.setForeground(_FIT_COLORS[row.fit])
            self.table.setItem(r, c, item)

    def rows(self) -> list[ModelRow]:
        return list(self._rows)

    def headings(self) -> list[str]:
        return [self.table.item(r, 0).text() for r, row in enumerate(self._table_rows) if row is None]

    def select_spec(self, spec: str) -> bool:
        for r, row in enumerate(self._table_rows):
            if row is not None and row.spec == spec:
                self.table.selectRow(r)
                return True
        return False

    def selected_row(self) -> ModelRow | None:
        sel = self.table.selectionModel().selectedRows()
        return self._table_rows[sel[0].row()] if sel else None

    def set_hint(self, text: str) -> None:
        self.hint_label.setText(text)
        self.hint_label.setVisible(bool(text))

    def selected_spec(self) -> str:
        row = self.selected_row()
        return row.spec if row else ""

    # -- job ----------------------------------------------------------------------------------
    def set_job_visible(self, visible: bool) -> None:
        self.progress.setVisible(visible)
        self.cancel_button.setVisible(visible)
        for w in (self.download_button, self.import_button, self.convert_button, self.use_button):
            w.setEnabled(not visible)

    def set_job_progress(self, fraction: float | None, text: str) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)  # busy indicator: total unknown
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(round(1000 * min(1.0, max(0.0, fraction)))))
        self.job_label.setText(text)
        self.job_label.setToolTip(text)

    def set_job_text(self, text: str) -> None:
        self.job_label.setText(text)

    def set_memory_text(self, text: str) -> None:
        self.memory_label.setText(text)
