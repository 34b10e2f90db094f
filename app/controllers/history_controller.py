"""Wires the History page: lists and searches the recordings (app/history.py), opens one, plays it
(app/player.py, started on first Play so that browsing never holds the audio device), and renames,
exports, reveals or trashes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QDir, QFile, QObject, QStandardPaths, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QInputDialog, QListWidgetItem, QTreeWidgetItem

from .. import history
from ..jobs import Job
from ..messages import for_error
from ..modes.base import model_display_name
from ..sysinfo import format_duration
from ..views.history_page import HistoryPage

TICK_MS = 100  # position updates while playing


def move_to_trash(path: Path) -> bool:
    """The system's Trash (macOS: the Finder's; Linux desktops: the freedesktop Trash)."""
    if sys.platform.startswith("linux"):  # Qt needs the data folder holding Trash/ to exist
        QDir().mkpath(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation))
    return bool(QFile.moveToTrash(str(path)))


class HistoryController(QObject):
    def __init__(self, shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.page = HistoryPage()
        self.sessions: list[history.Session] = []
        self.shown: list[history.Session] = []
        self.current: history.Session | None = None
        self.lines: list[history.Line] = []
        self.player = None
        self.player_factory = None  # tests: a callable(path) -> Player with a fake output
        self._position = 0.0  # where playback starts before a player exists
        self._cache = history.TranscriptCache()
        self._export_job: Job | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        p = self.page
        p.search.textChanged.connect(lambda _t: self.apply_filter())
        p.sessions.currentItemChanged.connect(self._session_chosen)
        p.transcript.itemClicked.connect(self._line_clicked)
        p.play_button.clicked.connect(self.toggle_play)
        p.position_slider.sliderReleased.connect(
            lambda: self.seek(p.position_slider.value() / 1000, play=None))
        p.position_slider.actionTriggered.connect(self._slider_action)
        p.rename_button.clicked.connect(lambda: self.rename())
        p.export_button.clicked.connect(lambda: self.export())
        p.reveal_button.clicked.connect(self.reveal)
        p.delete_button.clicked.connect(self.delete)
        p.continue_button.clicked.connect(lambda: self.continue_session())

    # -- listing ----------------------------------------------------------------------------------
    def folder(self) -> Path:
        return Path(self.shell.settings.record_dir).expanduser()

    def refresh(self, *_args) -> None:
        """Read the recordings folder again (keeps the opened session and the search)."""
        self.sessions = history.scan(self.folder())
        folder, home = str(self.folder()), str(Path.home())
        self.page.folder_label.setText("In " + ("~" + folder[len(home):] if folder.startswith(home + "/") else folder))
        self.apply_filter()

    def mode_label(self, session: history.Session) -> str:
        return self.shell.mode_label(session.mode)

    def model_label(self, session: history.Session) -> str:
        if session.model:
            return model_display_name(self.shell.backend, session.model)
        return session.model_name or "–"

    def apply_filter(self) -> None:
        query = self.page.search.text()
        self.shown = history.search(self.sessions, query, self._cache, self.mode_label)
        tree = self.page.sessions
        keep = self.current.base if self.current else None
        tree.blockSignals(True)
        tree.clear()
        for s in self.shown:
            item = QTreeWidgetItem([s.started.strftime("%Y-%m-%d %H:%M"), self.mode_label(s),
                                    self.model_label(s),
                                    format_duration(s.duration_s) + ("" if s.ended else " (unfinished)"),
                                    s.title])
            item.setToolTip(4, s.title)
            item.setToolTip(2, s.model or s.model_name)
            tree.addTopLevelItem(item)
            if s.base == keep:
                tree.setCurrentItem(item)
        tree.blockSignals(False)
        if not self.sessions:
            self.page.show_empty("No recordings yet.\nTurn on Record in Talk: every session you record "
                                 f"is listed here (they are saved in {self.folder()}).")
        elif not self.shown:
            self.page.show_empty(f"No recording matches “{query.strip()}”.")
        else:
            self.page.show_empty(None)
        if self.current is not None and all(s.base != self.current.base for s in self.sessions):
            self.open(None)  # deleted meanwhile

    def _session_chosen(self, item, _previous) -> None:
        index = self.page.sessions.indexOfTopLevelItem(item) if item is not None else -1
        if 0 <= index < len(self.shown):
            self.open(self.shown[index])

    # -- the opened session -----------------------------------------------------------------------
    def open(self, session: history.Session | None) -> None:
        self._close_player()
        self.current = session
        p = self.page
        if session is None:
            p.show_session(None)
            p.continue_button.hide()
            return
        self.lines = history.parse_transcript(session.transcript)
        info = " · ".join([session.started.strftime("%A %d %B %Y, %H:%M"), self.mode_label(session),
                           self.model_label(session), format_duration(session.duration_s)])
        p.show_session(session.title, info)
        p.transcript.clear()
        rows = [(line.time_s, line.text, "") for line in self.lines]
        rows += [(t, f"[picture shown: {path.name if path else 'none'}]", str(path or ""))  # MoshiVis
                 for t, path in session.images]
        for time_s, text, tip in sorted(rows, key=lambda r: r[0]):
            item = QListWidgetItem(f"{history.clock(time_s):>6}   {text}")
            item.setData(Qt.ItemDataRole.UserRole, time_s)
            item.setToolTip(tip)
            p.transcript.addItem(item)
        if not self.lines:
            p.transcript.addItem(QListWidgetItem("(no words in this recording)"))
        p.play_button.setEnabled(session.wav is not None)
        p.position_slider.setEnabled(session.wav is not None)
        p.continue_button.setVisible(session.mode == "assistant" and "assistant" in self.shell.modes)
        self._position = 0.0
        p.set_position(0.0, session.duration_s or 0.0)
        p.set_playing(False)

    def continue_session(self) -> bool:
        """The opened assistant session goes on in the Assistant: its turns are read into the chat
        model at the next start."""
        if self.current is None or self.current.mode != "assistant" or "assistant" not in self.shell.modes:
            return False
        from ..modes.assistant_history import messages_from_lines

        mode = self.shell.mode("assistant")
        mode.continue_conversation(messages_from_lines([line.text for line in self.lines]))
        self.shell.show_page("assistant")
        return True

    def select(self, session: history.Session) -> None:
        """Open `session` and select its row (what a click in the list does)."""
        index = next(i for i, s in enumerate(self.shown) if s.base == session.base)
        self.page.sessions.setCurrentItem(self.page.sessions.topLevelItem(index))

    # -- playback ---------------------------------------------------------------------------------
    def _ensure_player(self):
        if self.player is None and self.current is not None and self.current.wav is not None:
            from ..player import Player, PlayerError

            try:
                # the system's output, like any other player on the Mac
                self.player = (self.player_factory or Player)(self.current.wav)
            except PlayerError as e:
                self.shell.messages.show(for_error("playback", str(e)))
                return None
            if self._position:
                self.player.seek(self._position)
            self._timer.start()
        return self.player

    def toggle_play(self) -> None:
        player = self._ensure_player()
        if player is None:
            return
        if player.playing and not player.drained:
            player.pause()
        else:
            player.play()
        self._tick()

    def seek(self, seconds: float, play: bool | None = True) -> None:
        """Jump to `seconds`; play from there (True), pause (False) or keep playing or not (None)."""
        self._position = seconds
        player = self._ensure_player() if play or self.player is not None else None
        if player is not None:
            player.seek(seconds)
            if play:
                player.play()
            elif play is False:
                player.pause()
        self._tick()

    def position(self) -> float:
        return self.player.position if self.player is not None else self._position

    def _slider_action(self, action: int) -> None:
        from PySide6.QtWidgets import QAbstractSlider

        if action in (QAbstractSlider.SliderAction.SliderMove.value,
                      QAbstractSlider.SliderAction.SliderNoAction.value):
            return  # dragging: applied on release
        slider = self.page.position_slider
        QTimer.singleShot(0, lambda: self.seek(slider.value() / 1000, play=None))

    def _line_clicked(self, item: QListWidgetItem) -> None:
        time_s = item.data(Qt.ItemDataRole.UserRole)
        if time_s is not None:
            self.seek(float(time_s), play=True)

    def _tick(self) -> None:
        if self.current is None:
            return
        playing = self.player is not None and self.player.playing and not self.player.drained
        pos = self.position()
        self.page.set_position(pos, self.current.duration_s or 0.0)
        self.page.set_playing(playing)
        current = max((i for i, l in enumerate(self.lines) if l.time_s <= pos + 0.05), default=-1)
        if playing and current >= 0 and self.page.transcript.currentRow() != current:
            self.page.transcript.setCurrentRow(current)

    def _close_player(self) -> None:
        self._timer.stop()
        if self.player is not None:
            self.player.close()
            self.player = None

    # -- actions ----------------------------------------------------------------------------------
    def rename(self, name: str | None = None) -> bool:
        s = self.current
        if s is None:
            return False
        if name is None:
            name, ok = QInputDialog.getText(self.page, "Rename Recording", "Name:", text=s.title)
            if not ok:
                return False
        try:
            renamed = history.rename(s, name)
        except (history.HistoryError, OSError) as e:
            self.shell.messages.show(for_error("history", str(e)))
            return False
        self.current = renamed
        self.refresh()
        self.page.title_label.setText(renamed.title)
        return True

    def export(self, folder: str | None = None) -> Job | None:
        s = self.current
        if s is None:
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.page, "Export recording to", str(self.folder()))
            if not folder:
                return None
        label = self.mode_label(s)
        job = Job("export", lambda progress, cancel: history.export(s, folder, label, progress), self)
        job.succeeded.connect(lambda files: self.page.info_label.setText(
            f"Exported {', '.join(Path(f).name for f in files)} to {folder}"))
        job.failed.connect(lambda m: self.shell.messages.show(for_error("export", m)))
        self._export_job = job
        job.start()
        return job

    def reveal(self) -> None:
        s = self.current
        if s is None:
            return
        target = s.wav or s.transcript or s.meta
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(target)])
        else:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(target.parent)))

    def delete(self) -> bool:
        """Move the opened session's files to the Trash (never deleted outright)."""
        s = self.current
        if s is None:
            return False
        if not s.ended and self.shell.any_running():
            self.shell.messages.show(for_error("history", f"{s.base.name} may still be recording: "
                                               "stop the session first."))
            return False
        self._close_player()
        try:
            history.delete(s, move_to_trash)
        except history.HistoryError as e:
            self.shell.messages.show(for_error("history", str(e)))
            self.refresh()
            return False
        self.open(None)
        self.refresh()
        return True

    def shutdown(self) -> None:
        self._close_player()
        if self._export_job is not None and self._export_job.is_running():
            self._export_job.wait()
