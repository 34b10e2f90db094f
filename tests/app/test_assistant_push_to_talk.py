"""Push-to-talk in the Assistant (a setting, off by default): holding Control-Option-M (the global
shortcut's key-down and key-up, or the same keys in the window) listens, letting go ends the turn;
the press cuts a reply being spoken and starts the assistant when it is off; auto-repeat is ignored;
with the setting off, the keys do what they did."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from moshi_app.hotkey import GlobalHotKey
from moshi_app.modes.base import IDLE, RUNNING
from moshi_app.settings import SettingsStore

from .assistant_fakes import AssistantBackend, Plan
from .conftest import open_mode, wait_for
from .test_assistant_mode import p_done, started
from .test_shell import FakeCarbon

pytestmark = pytest.mark.timeout(120)
MODS = (Qt.KeyboardModifier.MetaModifier if sys.platform == "darwin"
        else Qt.KeyboardModifier.ControlModifier) | Qt.KeyboardModifier.AltModifier


def key(widget, kind, autorepeat=False, modifiers=MODS):
    event = QKeyEvent(QEvent.Type.KeyPress if kind == "down" else QEvent.Type.KeyRelease, Qt.Key.Key_M,
                      modifiers, "", autorepeat)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def holds(backend):
    return [c[1] for c in backend.calls if c[0] == "hold"]


def assistant(make_app, push_to_talk=True, **kw):
    backend = AssistantBackend()
    shell = make_app(backend, **kw)
    m = open_mode(shell, "assistant")
    assert m.set_trio("demo-stt", "demo-llm", "demo-tts")
    if push_to_talk:
        m.page.hold_check.setChecked(True)
    return shell, m, backend


def test_off_by_default_and_saved(qtbot, make_app, settings_path):
    shell, m, backend = assistant(make_app, push_to_talk=False)
    assert not m.page.hold_check.isChecked() and not m.push_to_talk and not m.holds_to_talk
    engine = started(qtbot, m)
    assert engine.options.push_to_talk is False
    key(m.page.input_edit, "down")
    key(m.page.input_edit, "up")
    assert holds(backend) == [] and m.state == RUNNING  # the keys do nothing here when it is off
    assert not m.page.hold_check.isEnabled()  # fixed while a session runs
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE)
    m.page.hold_check.setChecked(True)
    assert SettingsStore(settings_path).load_option("assistant", "push_to_talk", False) is True


def test_holding_the_keys_in_the_window_talks(qtbot, make_app):
    shell, m, backend = assistant(make_app)
    engine = started(qtbot, m)
    assert engine.options.push_to_talk is True
    wait_for(qtbot, lambda: m.page.state_label.text() == "Hold Control-Option-M to talk")
    edit = m.page.input_edit
    edit.setFocus()
    assert key(edit, "down")
    for _ in range(3):  # the keyboard's auto-repeat while held: ignored
        key(edit, "up", autorepeat=True)
        key(edit, "down", autorepeat=True)
    wait_for(qtbot, lambda: holds(backend) == [True])
    assert edit.text() == ""  # the keys did not type
    assert m.page.state_label.text() == "Listening while you hold the keys…"
    assert key(edit, "up")
    wait_for(qtbot, lambda: p_done(m))
    assert holds(backend) == [True, False]
    wait_for(qtbot, lambda: m.page.state_label.text() == "Hold Control-Option-M to talk")  # keys up: deaf again
    assert m.page.chat.transcript().startswith("You: what is the weather\nAssistant: You said what is the weather.")
    assert "typed" not in m.page.chat.bubbles("user")[0].accessibleDescription()
    key(edit, "down", modifiers=Qt.KeyboardModifier.AltModifier)  # another combination: not the shortcut
    key(edit, "up", modifiers=Qt.KeyboardModifier.AltModifier)
    assert holds(backend) == [True, False]


def test_the_press_cuts_the_reply_being_spoken(qtbot, make_app):
    shell, m, backend = assistant(make_app)
    backend.hold_after = 3
    backend.plans["Tell me a story"] = Plan("Once upon a time there lived an old clockmaker by the sea.")
    started(qtbot, m)
    m.send_typed("Tell me a story")
    wait_for(qtbot, lambda: len(m.page.chat.bubbles("assistant")) == 1
             and len(m.page.chat.bubbles("assistant")[0].words) == 3)
    bubble = m.page.chat.bubbles("assistant")[0]
    key(m.page.chat, "down")
    wait_for(qtbot, lambda: not bubble.live)
    assert bubble.interrupted and bubble.text == "Once upon a"
    backend.hold_after = None  # the next reply runs to its end
    key(m.page.chat, "up")
    wait_for(qtbot, lambda: len(m.page.chat.bubbles("assistant")) == 2 and p_done(m))
    assert [b.text for b in m.page.chat.bubbles("user")] == ["Tell me a story", "what is the weather"]


def test_global_shortcut_held_in_another_app_starts_and_talks(qtbot, make_app):
    carbon = FakeCarbon()
    shell, m, backend = assistant(make_app, hotkey_factory=lambda cb: GlobalHotKey(
        cb, loader=lambda: carbon, platform="darwin"))
    assert shell.hotkey.registered
    shell.window.hide()
    carbon.handler(None, 5, None)  # key-down (kEventHotKeyPressed) with the assistant off: it starts
    wait_for(qtbot, lambda: m.state == RUNNING)
    wait_for(qtbot, lambda: holds(backend) == [True])  # sent once it runs, as the key is still held
    carbon.handler(None, 6, None)  # key-up (kEventHotKeyReleased): the turn ends
    wait_for(qtbot, lambda: p_done(m))
    assert holds(backend) == [True, False] and m.state == RUNNING  # it goes on: the key does not stop it
    assert m.page.chat.transcript().startswith("You: what is the weather")


def test_a_release_before_the_session_runs_is_dropped(qtbot, make_app):
    shell, m, backend = assistant(make_app)
    shell.shortcut_pressed()
    assert m.running and m.holding
    shell.shortcut_released()  # let go while it was still starting
    wait_for(qtbot, lambda: m.state == RUNNING)
    qtbot.wait(100)
    assert holds(backend) == [] and not m.page.chat.bubbles("user")
