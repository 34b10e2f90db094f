"""Saved timers and reminders (reminders.json) in the Assistant's side panel from the moment the app
opens, before any session: listed, cancellable, and a due one notified from the menu-bar item with
no session having run; while a session with tools runs, the engine delivers them (and speaks them),
not the panel. The clock is injected."""

from __future__ import annotations

import json
import time

import pytest

from moshi_app.modes.base import RUNNING

from .assistant_fakes import AssistantBackend
from .conftest import wait_for

pytestmark = pytest.mark.timeout(120)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def saved(*items) -> tuple[float, dict[str, str]]:
    """reminders.json (the app's data folder) holding (text, seconds from now) items."""
    from moshi_mlx.tools.reminders import FILE_NAME, ReminderStore
    from moshi_mlx.tools.toolbox import default_data_dir

    t0 = time.time()
    store = ReminderStore(default_data_dir() / FILE_NAME, lambda: t0)
    return t0, {text: store.add(text, t0 + after).reminder_id for text, after in items}


def file_texts() -> list[str]:
    from moshi_mlx.tools.reminders import FILE_NAME
    from moshi_mlx.tools.toolbox import default_data_dir

    return [r["text"] for r in json.loads((default_data_dir() / FILE_NAME).read_text())["reminders"]]


def test_saved_reminders_listed_and_cancelled_before_any_session(qtbot, make_app):
    t0, ids = saved(("Timer: tea", 600), ("call mum", 3 * 3600))
    backend = AssistantBackend()
    shell = make_app(backend)
    shell.show_page("assistant")
    m = shell.mode("assistant")
    p = m.page
    assert p.reminders.count() == 2 and not p.reminders_empty.isVisible()
    assert p.reminders.item(0).text().startswith("Timer: tea\n") and "(in 10 min)" in p.reminders.item(0).text()
    assert "call mum" in p.reminders.item(1).text()
    p.reminders.setCurrentRow(1)
    assert p.cancel_reminder_button.isEnabled()
    p.cancel_reminder_button.click()
    assert [p.reminders.item(i).text().split("\n")[0] for i in range(p.reminders.count())] == ["Timer: tea"]
    assert file_texts() == ["Timer: tea"]
    assert backend.assistants == []  # no session was started


def test_a_due_reminder_notifies_with_no_session_since_the_app_started(qtbot, make_app):
    t0, ids = saved(("Timer: tea", 60), ("standup", 3600))
    backend = AssistantBackend()
    shell = make_app(backend)
    m = shell.mode("assistant")
    shell.show_page("talk")  # the Assistant is not in sight
    clock = Clock(t0 + 30)
    m.tools.clock = clock
    notes = []
    shell.tray.notify = notes.append
    assert m.reminders.check() == [] and notes == []  # not due yet
    clock.t = t0 + 61
    wait_for(qtbot, lambda: bool(notes), 5000)  # the panel's own poll (a QTimer) found it
    assert notes == ["Reminder: Timer: tea"]
    assert m.page.reminders.count() == 1 and "standup" in m.page.reminders.item(0).text()
    assert m.page.chat.transcript().endswith("[Reminder(Timer: tea)] Done")
    assert file_texts() == ["standup"]  # delivered once: it left the file
    assert m.reminders.check() == [] and notes == ["Reminder: Timer: tea"]
    assert backend.assistants == []


def test_a_reminder_set_elsewhere_shows_at_the_next_poll(qtbot, make_app):
    shell = make_app(AssistantBackend())
    shell.show_page("assistant")
    m = shell.mode("assistant")
    assert m.page.reminders.count() == 0 and m.page.reminders_empty.isVisible()
    saved(("from the command line", 600))  # e.g. `python -m moshi_mlx.assistant` in a terminal
    wait_for(qtbot, lambda: m.page.reminders.count() == 1, 5000)
    assert not m.page.reminders_empty.isVisible()


def test_a_running_session_with_tools_delivers_its_reminders_itself(qtbot, make_app):
    t0, ids = saved(("Timer: tea", 60),)
    backend = AssistantBackend()
    shell = make_app(backend)
    m = shell.mode("assistant")
    assert m.set_trio("demo-stt", "demo-llm", "demo-tts")
    shell.show_page("assistant")
    assert m.start()
    wait_for(qtbot, lambda: m.state == RUNNING)
    assert m.tools.box is not None
    m.tools.clock = Clock(t0 + 61)
    assert m.reminders.check() == []  # the engine's to speak: left in the file
    assert file_texts() == ["Timer: tea"]
    m.stop()
    wait_for(qtbot, lambda: m.state != RUNNING and not m.running)
    assert [r.text for r in m.reminders.check()] == ["Timer: tea"]  # no session now: the panel's
