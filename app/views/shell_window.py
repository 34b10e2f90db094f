"""The main window: a toolbar of pages (the modes, then History) over a stack of their widgets, and
the menu bar. Layout only; app/controllers/shell.py decides what the actions do."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QToolBar, QWidget

REVEAL_LABEL = "Reveal in Finder" if sys.platform == "darwin" else "Show in Folder"


class ShellWindow(QMainWindow):
    close_requested = Signal(object)  # the QCloseEvent: the shell accepts it (quit) or ignores it (tray)
    page_chosen = Signal(str)  # a page's key: a mode id or "history"

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Moshi")
        self.resize(880, 660)
        self.setMinimumSize(640, 480)
        self.setUnifiedTitleAndToolBarOnMac(True)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.toolbar = QToolBar("Modes")
        self.toolbar.setObjectName("modes-toolbar")
        self.toolbar.setAccessibleName("Modes")
        self.toolbar.setMovable(False)
        self.toolbar.setFloatable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.toggleViewAction().setVisible(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.page_group = QActionGroup(self)
        self.page_group.setExclusive(True)
        self.page_actions: dict[str, QAction] = {}
        self._pages: dict[str, QWidget] = {}

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.close_action = QAction("Close Window", self)
        self.close_action.setShortcut(QKeySequence.StandardKey.Close)
        self.settings_action = QAction("Settings…", self)
        # Cmd+, on macOS; Linux has no standard binding for it, Ctrl+, is the common one
        self.settings_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
                                          or [QKeySequence("Ctrl+,")])
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.quit_action = QAction("Quit Moshi", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu.addAction(self.close_action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addAction(self.quit_action)
        self.view_menu = bar.addMenu("&View")
        session_menu = bar.addMenu("&Session")
        self.toggle_action = QAction("Start", self)
        self.toggle_action.setShortcut(QKeySequence("Ctrl+Return"))
        session_menu.addAction(self.toggle_action)
        models_menu = bar.addMenu("&Models")
        self.models_action = QAction("Model Manager…", self)
        self.models_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        models_menu.addAction(self.models_action)
        help_menu = bar.addMenu("&Help")
        self.about_action = QAction("About Moshi", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)
        self.close_action.triggered.connect(self.close)

    def add_page(self, key: str, label: str, widget: QWidget, shortcut: str, tip: str = "") -> QAction:
        """A page in the stack, its toolbar button and View menu item (checkable, exclusive)."""
        action = QAction(label, self)
        action.setCheckable(True)
        action.setShortcut(QKeySequence(shortcut))
        text = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or label} ({text})")
        action.triggered.connect(lambda _=False, k=key: self.page_chosen.emit(k))
        self.page_group.addAction(action)
        self.toolbar.addAction(action)
        self.view_menu.addAction(action)
        self.stack.addWidget(widget)
        self.page_actions[key] = action
        self._pages[key] = widget
        return action

    def show_page(self, key: str) -> None:
        self.stack.setCurrentWidget(self._pages[key])
        self.page_actions[key].setChecked(True)

    def current_page(self) -> str:
        widget = self.stack.currentWidget()
        return next(k for k, w in self._pages.items() if w is widget)

    def closeEvent(self, event) -> None:
        self.close_requested.emit(event)
