"""The Assistant's side panel of timers and reminders: what reminders.json holds (set by any
session, before or since the app started), cancellable; due ones shown in the conversation and
notified from the menu-bar item. A running session with tools speaks its due reminders itself;
otherwise (no session since the app started, or one without tools) the panel's poll takes them
from the file. The store is moshi_mlx.tools.reminders (plain Python: the app loads no MLX)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer

from .base import RUNNING

POLL_MS = 1000


class ReminderPanel(QObject):
    def __init__(self, mode) -> None:
        super().__init__(mode)
        self.mode = mode
        self.page = mode.page
        self.page.cancel_reminder_button.clicked.connect(self.cancel_chosen)
        self.show()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def show(self, listed: list[tuple[str, str]] | None = None) -> None:
        """The list, from reminders.json (or `listed`, as AssistantTools.reminders() gives it)."""
        from PySide6.QtWidgets import QListWidgetItem

        view = self.page.reminders
        view.clear()
        for rid, text in self.mode.tools.reminders() if listed is None else listed:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, rid)
            item.setToolTip(text)
            view.addItem(item)
        self.page.cancel_reminder_button.setEnabled(view.currentRow() >= 0)
        self.page.reminders_empty.setVisible(view.count() == 0)

    def shown_ids(self) -> list[str]:
        view = self.page.reminders
        return [view.item(i).data(Qt.ItemDataRole.UserRole) for i in range(view.count())]

    def check(self) -> list:
        """The poll: due reminders delivered when no session is there to speak them; the list
        follows the file (reminders set or cancelled elsewhere). Returns those delivered."""
        tools = self.mode.tools
        engine_delivers = self.mode.state == RUNNING and tools.box is not None
        delivered = [] if engine_delivers else tools.take_due()
        for r in delivered:
            self.due(r.reminder_id, r.text)
        listed = tools.reminders()
        if [rid for rid, _ in listed] != self.shown_ids():
            self.show(listed)
        return delivered

    def tool_call(self, event) -> None:
        """A ToolCallEvent: a timer or reminder set or cancelled shows at once."""
        if event.state == "done" and any(w in event.name for w in ("timer", "remind")):
            self.show()

    def due(self, reminder_id: str, text: str) -> None:
        """A timer or reminder is due: in the conversation, off the list, and a notification
        from the menu-bar item when the Assistant is not in sight."""
        self.show()
        self.page.chat.reminder(text)
        shell = self.mode.shell
        w = shell.window
        if not w.isVisible() or w.isMinimized() or shell.current_page() != self.mode.id:
            shell.tray.notify(f"Reminder: {text}")

    def cancel_chosen(self) -> None:
        item = self.page.reminders.currentItem()
        if item is not None:
            self.mode.tools.cancel(item.data(Qt.ItemDataRole.UserRole))
            self.show()
