"""Builds the QApplication, the main window (the shell and its modes); runs the event loop."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from . import resources
from .backend import Backend
from .controllers.shell import Shell
from .settings import APPLICATION, ORGANIZATION, SettingsStore
from .views.shell_window import ShellWindow


def ensure_qapp() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    app.setWindowIcon(resources.app_icon())
    if sys.platform != "darwin" and "fusion" in [k.lower() for k in _styles()]:
        # macOS keeps its native style; elsewhere Fusion follows the system colour scheme cleanly.
        app.setStyle("Fusion")
    return app


def _styles() -> list[str]:
    from PySide6.QtWidgets import QStyleFactory

    return QStyleFactory.keys()


def build(settings_path: str | None = None, backend: Backend | None = None, **options) -> Shell:
    """The main window and its shell (not shown yet)."""
    ensure_qapp()
    window = ShellWindow()
    window.setWindowIcon(resources.app_icon())
    return Shell(window, SettingsStore(settings_path), backend, **options)


def run(args) -> int:
    app = ensure_qapp()
    shell = build(args.settings)
    # The window may close to the tray while a session runs: the shell says when to quit.
    app.setQuitOnLastWindowClosed(False)
    shell.closed.connect(app.quit)
    window = shell.window
    window.show()
    if not any(m.prefs.model for m in shell.modes.values()):
        QTimer.singleShot(300, shell.models.open)  # first launch: show where to get a model
    if args.quit_after is not None:
        def finish() -> None:
            if args.screenshot:
                window.grab().save(args.screenshot)
            shell.quit()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    return app.exec()
