"""The menu-bar item (QSystemTrayIcon): the current state, Start/Stop of the active mode, Show
Moshi, Quit. On macOS it sits in the menu bar; on Linux desktops in the system tray, where one is."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .. import resources
from ..modes.base import BUSY


class Tray(QObject):
    def __init__(self, shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.icon = QSystemTrayIcon(resources.app_icon(), self)
        self.menu = QMenu()
        self.state_action = QAction("Ready", self)
        self.state_action.setEnabled(False)
        self.toggle_action = QAction("Start", self)
        self.show_action = QAction("Show Moshi", self)
        self.quit_action = QAction("Quit Moshi", self)
        self.menu.addAction(self.state_action)
        self.menu.addSeparator()
        self.menu.addAction(self.toggle_action)
        self.assistant_action = QAction("Ask the Assistant", self)  # from any app, whatever mode is shown
        self.assistant_action.setVisible("assistant" in shell.modes)
        self.assistant_action.triggered.connect(lambda: shell.modes["assistant"].listen())
        self.menu.addAction(self.assistant_action)
        self.menu.addAction(self.show_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.toggle_action.triggered.connect(shell.toggle_active)
        self.show_action.triggered.connect(shell.show_window)
        self.quit_action.triggered.connect(shell.quit)
        self.icon.activated.connect(self._activated)
        self.forced_available: bool | None = None  # tests: pretend a tray exists (or not)
        if self.available():
            self.icon.show()

    def available(self) -> bool:
        if self.forced_available is not None:
            return self.forced_available
        return QSystemTrayIcon.isSystemTrayAvailable()

    def update(self, mode) -> None:
        """Show the active mode's state and what Start/Stop will do."""
        self.state_action.setText(f"{mode.label}: {mode.status}")
        self.toggle_action.setText(mode.verbs[1] if mode.running else mode.verbs[0])
        self.toggle_action.setEnabled(mode.state != BUSY)
        self.icon.setToolTip(f"Moshi · {mode.label}: {mode.status}")
        assistant = self.shell.modes.get("assistant")
        if assistant is not None:
            self.assistant_action.setEnabled(not assistant.running)

    def notify(self, text: str) -> None:
        if self.available() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage("Moshi", text, QSystemTrayIcon.MessageIcon.Information, 4000)

    def _activated(self, reason) -> None:
        # A click on macOS opens the menu; on Linux trays it shows the window.
        click = reason == QSystemTrayIcon.ActivationReason.Trigger and sys.platform != "darwin"
        if click or reason == QSystemTrayIcon.ActivationReason.DoubleClick:
            self.shell.show_window()

    def hide(self) -> None:
        self.icon.hide()
