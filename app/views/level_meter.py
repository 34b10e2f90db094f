"""A horizontal audio level meter (dBFS), drawn with the palette so it follows dark/light mode."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db = FLOOR_DB
        self._peak_db = FLOOR_DB
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(12)

    def sizeHint(self) -> QSize:
        return QSize(240, 12)

    @property
    def level_db(self) -> float:
        return self._db

    def fraction(self) -> float:
        return min(1.0, max(0.0, (self._db - FLOOR_DB) / -FLOOR_DB))

    def set_level(self, db: float) -> None:
        db = FLOOR_DB if db != db else max(FLOOR_DB, min(0.0, float(db)))  # NaN -> floor
        self._db = db
        self._peak_db = max(db, self._peak_db - 1.5)  # peak marker falls slowly
        self.setAccessibleDescription(f"{db:.0f} dBFS")
        self.update()

    def reset(self) -> None:
        self._db = self._peak_db = FLOOR_DB
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        pal = self.palette()
        p.setPen(Qt.PenStyle.NoPen)
        track = pal.color(QPalette.ColorRole.Text)
        track.setAlpha(28)  # a faint track on light and dark backgrounds alike
        p.setBrush(track)
        p.drawRoundedRect(r, 4, 4)
        frac = self.fraction()
        if frac > 0:
            color = pal.color(QPalette.ColorRole.Highlight)
            if self._db > -6:
                color = QColor(230, 80, 60)
            elif self._db > -18:
                color = QColor(90, 190, 90)
            p.setBrush(color)
            p.drawRoundedRect(QRectF(r.x(), r.y(), r.width() * frac, r.height()), 4, 4)
        peak = (self._peak_db - FLOOR_DB) / -FLOOR_DB
        if peak > 0:
            p.setBrush(pal.color(QPalette.ColorRole.Text))
            p.drawRect(QRectF(r.x() + r.width() * min(peak, 1.0) - 1, r.y(), 2, r.height()))
        p.end()
