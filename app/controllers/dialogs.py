"""Messages to the user as non-blocking dialogs: the app keeps running behind them."""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from ..messages import UserMessage


class MessagePresenter:
    """Opens QMessageBoxes window-modally without blocking; remembers them for inspection."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self.history: list[UserMessage] = []
        self.last_box: QMessageBox | None = None

    def _box(self, msg: UserMessage) -> QMessageBox:
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Warning if msg.warning_only else QMessageBox.Icon.Critical)
        box.setWindowTitle(msg.title)
        box.setText(msg.text)
        box.setInformativeText(msg.advice)
        box.setObjectName("message:" + msg.title)
        self.history.append(msg)
        self.last_box = box
        return box

    def show(self, msg: UserMessage) -> QMessageBox:
        box = self._box(msg)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.finished.connect(box.deleteLater)
        box.open()
        return box

    def ask(self, msg: UserMessage, on_yes: Callable[[], None], yes_text: str = "Continue") -> QMessageBox:
        """A warning with Continue/Cancel; `on_yes` runs when the user continues."""
        box = self._box(msg)
        yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def done(_result: int) -> None:
            if box.clickedButton() is yes:
                on_yes()
            box.deleteLater()

        box.finished.connect(done)
        box.open()
        return box
