"""The shell: the main window's pages (the registered modes, then History), the menus, the tray
item, the global shortcut (and the same keys held in the window, for push-to-talk), the settings,
and closing (to the tray while a session runs)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QObject, Signal
from PySide6.QtWidgets import QMessageBox

from ..backend import Backend
from ..hotkey import SHORTCUT_TEXT, GlobalHotKey
from ..modes import MODES
from ..modes.base import BUSY, RUNNING, Mode
from ..settings import AppSettings, SettingsStore
from ..sharing import Sharing
from ..views.settings_dialog import SettingsDialog
from ..views.shell_window import ShellWindow
from .dialogs import MessagePresenter
from .history_controller import HistoryController
from .hold_key import HoldKey
from .models_controller import ModelsController
from .tray import Tray

HISTORY = "history"
ABOUT = ("<b>Moshi</b><p>Voice AI on your own Mac: Kyutai's speech models running on the Apple "
         "Silicon GPU with MLX. Offline and private: nothing you say leaves this computer.</p>")


class Shell(QObject):
    closed = Signal()  # after shutdown: the application may quit

    def __init__(self, window: ShellWindow, store: SettingsStore, backend: Backend | None = None,
                 hotkey_factory=GlobalHotKey) -> None:
        super().__init__(window)
        self.window = window
        self.store = store
        self.backend = backend or Backend()
        self.settings: AppSettings = store.load()
        self.messages = MessagePresenter(window)
        self.models = ModelsController(self)
        self.modes: dict[str, Mode] = {}
        self._closed = False
        self._quitting = False
        for i, cls in enumerate(MODES):
            mode = cls(self)
            self.modes[cls.id] = mode
            window.add_page(cls.id, cls.label, mode.page, f"Ctrl+{i + 1}", f"{cls.label} mode")
            mode.state_changed.connect(lambda _s, m=mode: self._mode_changed(m))
            mode.status_changed.connect(lambda _s, m=mode: self._mode_changed(m))
        self.history = HistoryController(self)
        window.add_page(HISTORY, "History", self.history.page, "Ctrl+Y", "Recorded sessions")
        for mode in self.modes.values():
            mode.session_recorded.connect(self.history.refresh)
        self.active_mode: Mode = next(iter(self.modes.values()))
        self.sharing = Sharing(self)  # "Let other devices connect": Talk's model, served
        self.tray = Tray(self)
        self.hotkey = hotkey_factory(self.shortcut_pressed)
        self.hotkey.on_release = self.shortcut_released
        self._apply_hotkey()
        self.hold_key = HoldKey(window, self.shortcut_pressed, self.shortcut_released,
                                lambda: self.active_mode.holds_to_talk)
        w = window
        w.page_chosen.connect(self.show_page)
        w.toggle_action.triggered.connect(self.toggle_active)
        w.settings_action.triggered.connect(self.open_settings)
        w.models_action.triggered.connect(lambda: self.models.open(self.active_mode))
        w.about_action.triggered.connect(self.about)
        w.quit_action.triggered.connect(self.quit)
        w.close_requested.connect(self._close_requested)
        geometry = store.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            w.restoreGeometry(geometry)
        last = self.settings.last_mode
        self.show_page(last if last in self.modes or last == HISTORY else self.active_mode.id)
        if self.settings.sharing:  # it was on when the app quit
            self.sharing.turn_on()

    # -- pages ------------------------------------------------------------------------------------
    def mode(self, mode_id: str) -> Mode:
        return self.modes[mode_id]

    def mode_label(self, mode_id: str) -> str:
        """A mode's name, also for recordings of modes this build does not have."""
        if mode_id in self.modes:
            return self.modes[mode_id].label
        from ..modes.labels import mode_label

        return mode_label(mode_id)

    def show_page(self, key: str) -> None:
        self.window.show_page(key)
        if key in self.modes:
            self.active_mode = self.modes[key]  # History keeps the last mode active (tray, shortcut)
        else:
            self.history.refresh()
        self._mode_changed(self.active_mode)
        if key != self.settings.last_mode:
            self.update_settings(last_mode=key)

    def current_page(self) -> str:
        return self.window.current_page()

    def any_running(self) -> bool:
        return any(m.running for m in self.modes.values())

    def toggle_active(self) -> None:
        self.active_mode.toggle()

    def shortcut_pressed(self) -> None:
        """Control-Option-M went down (from any app, or in the window): the active mode starts or
        stops, or, with push-to-talk, listens while it is held."""
        mode = self.active_mode
        if mode.holds_to_talk:
            mode.hold(True)
        else:
            mode.toggle()

    def shortcut_released(self) -> None:
        mode = self.active_mode
        if mode.holds_to_talk:
            mode.hold(False)

    def _mode_changed(self, mode: Mode) -> None:
        if mode is not self.active_mode:
            return
        self.window.toggle_action.setText(mode.verbs[1] if mode.running else mode.verbs[0])
        self.window.toggle_action.setEnabled(mode.state != BUSY)
        self.window.setWindowTitle(f"Moshi · {mode.label}" + (" · on" if mode.state == RUNNING else ""))
        self.tray.update(mode)

    # -- settings ---------------------------------------------------------------------------------
    def update_settings(self, **changes) -> None:
        self.settings = self.settings.replace(**changes)
        self.store.save(self.settings)

    def open_settings(self) -> SettingsDialog:
        holder = QObject(self)  # owns the modes' settings pages' controllers while the dialog lives
        pages = [page for mode in self.modes.values() for page in mode.settings_pages(holder)]
        dialog = SettingsDialog(self.settings, self.window, shortcut_text=SHORTCUT_TEXT,
                                shortcut_error=self.hotkey.error, sharing=self.sharing, extra_pages=pages)
        dialog.destroyed.connect(holder.deleteLater)

        def accepted() -> None:
            new = dialog.result_settings()
            self.update_settings(**{k: getattr(new, k) for k in (
                "text_temperature", "text_top_k", "audio_temperature", "audio_top_k", "seed",
                "record_dir", "auto_record", "global_shortcut")})
            for mode in self.modes.values():
                mode.settings_changed()
            self._apply_hotkey()
            self.history.refresh()

        dialog.accepted.connect(accepted)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _apply_hotkey(self) -> None:
        if self.settings.global_shortcut:
            self.hotkey.register()
        else:
            self.hotkey.unregister()

    def about(self) -> None:
        QMessageBox.about(self.window, "About Moshi", ABOUT)

    # -- window, tray, quitting --------------------------------------------------------------------
    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def quit(self) -> None:
        self._quitting = True
        self.window.close()
        if not self._closed:  # the window was already hidden: close() did not reach closeEvent
            self.shutdown()

    def _close_requested(self, event) -> None:
        if not self._quitting and self.any_running() and self.tray.available():
            event.ignore()  # the session goes on; the tray item brings the window back
            self.window.hide()
            self.tray.notify(f"{self.active_mode.label} goes on: Moshi is in the menu bar.")
            return
        event.accept()
        self.shutdown()

    def shutdown(self) -> None:
        """Stop every mode and background job cleanly, save the settings, then emit `closed`."""
        if self._closed:
            return
        self._closed = True
        self.store.set_value("window/geometry", self.window.saveGeometry())
        self.sharing.shutdown()  # connections closed, port freed
        for mode in self.modes.values():
            mode.shutdown()
        self.models.shutdown()
        self.history.shutdown()
        self.hotkey.unregister()
        self.tray.hide()
        self.store.save(self.settings)
        self.closed.emit()
