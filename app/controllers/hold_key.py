"""The global shortcut's keys held in the window (Control-Option-M; Qt names Control "Meta" on
macOS), for push-to-talk: where the global shortcut is off or not available (Linux), and in the
window itself. Key-down and key-up reach the shell; the keyboard's auto-repeat is ignored, and
leaving the window while held counts as letting go (the key-up would go elsewhere). Only while the
active mode holds to talk: otherwise the keys go on to the widgets as before."""

from __future__ import annotations

import sys
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QWidget

KEY = Qt.Key.Key_M
MODIFIERS = (Qt.KeyboardModifier.MetaModifier if sys.platform == "darwin"
             else Qt.KeyboardModifier.ControlModifier) | Qt.KeyboardModifier.AltModifier


class HoldKey(QObject):
    def __init__(self, window: QWidget, on_press: Callable[[], None], on_release: Callable[[], None],
                 active: Callable[[], bool]) -> None:
        super().__init__(window)
        self.window, self.on_press, self.on_release, self.active = window, on_press, on_release, active
        self.held = False
        QApplication.instance().installEventFilter(self)
        window.destroyed.connect(self._detach)

    def _detach(self, *_args) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def _ours(self, obj) -> bool:
        return isinstance(obj, QWidget) and obj.window() is self.window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and event.key() == KEY and self._ours(obj):
            if kind == QEvent.Type.KeyPress:
                if self.held:
                    return True  # auto-repeat (or the same press seen by a parent)
                if (event.modifiers() & MODIFIERS) != MODIFIERS or not self.active():
                    return False
                if event.isAutoRepeat():
                    return True
                self.held = True
                self.on_press()
                return True
            if self.held:
                if event.isAutoRepeat():
                    return True  # auto-repeat sends key-up / key-down pairs while held
                self.held = False
                self.on_release()
                return True
        elif kind == QEvent.Type.WindowDeactivate and self.held and obj is self.window:
            self.held = False
            self.on_release()
        return False
