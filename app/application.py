"""Builds the QApplication, the main window and its controllers; runs the event loop."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from . import resources
from .backend import Backend
from .controllers.main_controller import MainController
from .settings import APPLICATION, ORGANIZATION, SettingsStore
from .views.main_window import MainWindow


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


def build(settings_path: str | None = None, backend: Backend | None = None) -> MainController:
    """The main window and its controller (not shown yet)."""
    ensure_qapp()
    window = MainWindow()
    window.setWindowIcon(resources.app_icon())
    return MainController(window, SettingsStore(settings_path), backend)


def run(args) -> int:
    app = ensure_qapp()
    controller = build(args.settings)
    window = controller.window
    window.show()
    if not controller.settings.model:
        QTimer.singleShot(300, controller.models.open)  # first launch: show where to get a model
    if args.quit_after is not None:
        def finish() -> None:
            if args.screenshot:
                window.grab().save(args.screenshot)
            window.close()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    return app.exec()
