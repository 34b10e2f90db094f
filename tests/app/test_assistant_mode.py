"""The Assistant mode over a scripted engine (tests/app/assistant_fakes.py): a typed turn, a spoken
one with live captions, an interruption (Stop and Esc), consent cards allowed and denied, a
reminder shown, the trio of models, the character, an empty state and the 800x600 screenshot."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from moshi_app.modes.base import IDLE, RUNNING

from .assistant_fakes import AssistantBackend, Plan
from .conftest import SCREENSHOTS, open_mode, wait_for

pytestmark = pytest.mark.timeout(120)


def assistant(make_app, backend=None, trio=("demo-stt", "demo-llm", "demo-tts")):
    backend = backend or AssistantBackend()
    shell = make_app(backend)
    m = open_mode(shell, "assistant")
    assert m.set_trio(*trio), shell.messages.history
    return shell, m, backend


def started(qtbot, m):
    assert m.start()
    wait_for(qtbot, lambda: m.state == RUNNING)
    return m.bridge.call(lambda e: e).result(5)


def test_page_is_cmd5_with_an_empty_state(qtbot, make_app):
    shell = make_app(AssistantBackend())
    m = shell.mode("assistant")
    assert shell.window.page_actions["assistant"].shortcut().toString() == "Ctrl+5"
    shell.show_page("assistant")
    p = m.page
    assert p.chat.empty.isVisible() and not p.chat.items
    assert p.reminders_empty.isVisible() and p.reminders.count() == 0
    shell.window.resize(800, 600)
    qtbot.wait(50)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert shell.window.grab().save(str(SCREENSHOTS / "assistant-empty.png"))
    assert m.model_picker.guide.isVisible()  # no chat model yet
    m.model_picker.guide_demo_button.click()
    assert m.trio() == ("demo-stt", "demo-llm", "demo-tts")
    assert not m.model_picker.guide.isVisible()
    assert "Demo chat model" in m.model_picker.model_label.full_text()
    for w in (p.input_edit, p.send_button, p.interrupt_button, p.start_button, p.chat, p.reminders,
              p.character_combo, p.voice_combo):
        assert w.accessibleName(), w


def test_typed_turn_starts_the_assistant_and_shows_the_reply(qtbot, make_app):
    shell, m, backend = assistant(make_app)
    p = m.page
    p.input_edit.setText("What time is it?")
    qtbot.keyClick(p.input_edit, Qt.Key.Key_Return)  # Return sends; the assistant was off: it starts
    wait_for(qtbot, lambda: len(p.chat.bubbles("assistant")) == 1 and not p.chat.bubbles("assistant")[0].live)
    assert p.input_edit.text() == ""
    opts = backend.options[-1]
    assert (opts.stt, opts.llm, opts.tts) == ("demo-stt", "demo-llm", "demo-tts")
    assert p.chat.transcript() == "You: What time is it?\nAssistant: You said What time is it?."
    you, = p.chat.bubbles("user")
    assert "You" in you.header.text() and ":" in you.header.text()  # who, when
    wait_for(qtbot, lambda: m.phase == "listening")
    assert p.latency_label.text() == "latency 420 ms"
    assert m.history == [{"role": "user", "content": "What time is it?"},
                         {"role": "assistant", "content": "You said What time is it?."}]
    # a second turn, typed while running, goes on in the same session
    p.input_edit.setText("Hello")
    p.send_button.click()
    wait_for(qtbot, lambda: len(p.chat.bubbles("assistant")) == 2 and not p.chat.bubbles("assistant")[1].live)
    assert len(backend.assistants) == 1 and backend.calls.count(("send_text", "Hello")) == 1
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE)
    assert p.start_button.text() == "Start Assistant"


def test_spoken_turn_shows_live_captions(qtbot, make_app):
    shell, m, backend = assistant(make_app)
    engine = started(qtbot, m)
    engine.speak("turn on the lights")
    wait_for(qtbot, lambda: p_done(m))
    assert m.page.chat.transcript().startswith("You: turn on the lights\nAssistant: ")
    assert "typed" not in m.page.chat.bubbles("user")[0].accessibleDescription()


def p_done(m) -> bool:
    found = m.page.chat.bubbles("assistant")
    return bool(found) and not found[-1].live


@pytest.mark.parametrize("how", ["button", "escape", "typing"])
def test_interruption_cuts_the_reply_and_marks_it(qtbot, make_app, how):
    backend = AssistantBackend()
    backend.hold_after = 3
    backend.plans["Tell me a story"] = Plan("Once upon a time there lived an old clockmaker by the sea.")
    shell, m, _ = assistant(make_app, backend)
    started(qtbot, m)
    p = m.page
    m.send_typed("Tell me a story")
    wait_for(qtbot, lambda: len(p.chat.bubbles("assistant")) == 1 and len(p.chat.bubbles("assistant")[0].words) == 3)
    bubble = p.chat.bubbles("assistant")[0]
    assert bubble.highlighted() == "a"  # the word being heard
    wait_for(qtbot, lambda: p.interrupt_button.isEnabled())
    if how == "button":
        p.interrupt_button.click()
    elif how == "escape":
        p.input_edit.setFocus()
        qtbot.keyClick(p.input_edit, Qt.Key.Key_Escape)
    else:
        qtbot.keyClicks(p.input_edit, "w")
    wait_for(qtbot, lambda: not bubble.live)
    assert ("interrupt", "") in backend.calls
    assert bubble.interrupted and bubble.text == "Once upon a" and bubble.highlighted() == ""
    assert "(cut off)" in bubble.body.text()
    assert m.history[-1] == {"role": "assistant", "content": "Once upon a", "interrupted": True}
    wait_for(qtbot, lambda: not p.interrupt_button.isEnabled())


@pytest.mark.parametrize("decision", ["once", "deny"])
def test_consent_card_allowed_or_denied(qtbot, make_app, decision):
    backend = AssistantBackend()
    backend.plans["Open example"] = Plan("Opened it.", tool="open_url", arguments={"url": "https://example.com"},
                                         consent=True, result="opened https://example.com")
    shell, m, _ = assistant(make_app, backend)
    started(qtbot, m)
    m.send_typed("Open example")
    chat = m.page.chat
    wait_for(qtbot, lambda: bool(chat.cards) and next(iter(chat.cards.values())).buttons.isVisible())
    card = next(iter(chat.cards.values()))
    assert card.question.text() == "May I use open_url?" and "url: https://example.com" in card.title.text()
    assert m.page.interrupt_button.isEnabled()  # waiting on a tool: Stop still works
    {"once": card.once_button, "deny": card.deny_button}[decision].click()
    assert not card.buttons.isVisible()
    wait_for(qtbot, lambda: p_done(m))
    assert ("consent", f"req-1:{decision}") in backend.calls
    assert len({id(c) for c in chat.cards.values()}) == 1  # one card per call
    if decision == "once":
        assert card.state == "done" and "opened https://example.com" in card.status.text()
        assert chat.transcript().endswith("Assistant: Opened it.")
    else:
        assert card.state == "denied" and card.status.text().startswith("Denied")
        assert chat.transcript().endswith("Assistant: All right.")


def test_tool_without_consent_and_a_reminder(qtbot, make_app):
    backend = AssistantBackend()
    backend.plans["Timer"] = Plan("Timer set.", tool="set_timer", arguments={"minutes": 10, "label": "tea"})
    shell, m, _ = assistant(make_app, backend)
    engine = started(qtbot, m)
    assert engine.options.tools is m.tools.box and engine.options.tools is not None  # the session's tools
    notes = []
    shell.tray.notify = notes.append
    m.send_typed("Timer")
    wait_for(qtbot, lambda: p_done(m))
    card, = set(m.page.chat.cards.values())
    assert card.state == "done" and not card.buttons.isVisible() and "(0.2 s)" in card.status.text()
    assert "Timer set:" in card.status.text()
    assert m.page.reminders.count() == 1 and "Timer: tea" in m.page.reminders.item(0).text()
    assert not m.page.reminders_empty.isVisible()
    assert "(in 10 min)" in m.page.reminders.item(0).text()
    (rid, _), = m.tools.reminders()
    m.tools.cancel(rid)  # due now, as the engine would find it
    shell.window.hide()
    engine.remind(rid, "Timer: tea")
    wait_for(qtbot, lambda: m.page.reminders.count() == 0)
    assert notes == ["Reminder: Timer: tea"]
    assert m.page.chat.transcript().endswith("[Reminder(Timer: tea)] Done")


def test_cancel_a_reminder(qtbot, make_app):
    backend = AssistantBackend()
    backend.plans["Timer"] = Plan("Set.", tool="set_timer", arguments={"minutes": 5})
    shell, m, _ = assistant(make_app, backend)
    started(qtbot, m)
    m.send_typed("Timer")
    wait_for(qtbot, lambda: m.page.reminders.count() == 1)
    m.page.reminders.setCurrentRow(0)
    m.page.cancel_reminder_button.click()
    assert m.page.reminders.count() == 0 and not m.tools.reminders()


def test_no_tools_when_builtins_are_off_and_no_servers(qtbot, make_app):
    shell, m, backend = assistant(make_app)
    m.tools.save(builtins=False)
    started(qtbot, m)
    assert backend.options[-1].tools is None


def test_new_conversation_and_continue(qtbot, make_app):
    shell, m, backend = assistant(make_app)
    started(qtbot, m)
    m.send_typed("Hi")
    wait_for(qtbot, lambda: p_done(m))
    m.page.new_button.click()
    wait_for(qtbot, lambda: m.state == IDLE)
    assert not m.page.chat.items and m.history == []
    m.continue_conversation([{"role": "user", "content": "Earlier"}, {"role": "assistant", "content": "Yes."}])
    assert m.page.chat.transcript() == "You: Earlier\nAssistant: Yes."
    started(qtbot, m)
    assert backend.options[-1].history == [{"role": "user", "content": "Earlier"},
                                           {"role": "assistant", "content": "Yes."}]


def test_character_and_voice_are_saved(qtbot, make_app, settings_path):
    shell, m, backend = assistant(make_app)
    p = m.page
    p.voice_combo.setEditText("demo/voice-2.wav")
    assert m.edit_system_prompt("You are a pirate.")
    assert p.character_combo.currentData() == "custom"
    started(qtbot, m)
    opts = backend.options[-1]
    assert opts.system == "You are a pirate." and opts.voice == "demo/voice-2.wav"
    assert m.option("voice", "") == "demo/voice-2.wav"


def test_trio_refuses_models_of_other_kinds(make_app):
    shell, m, _ = assistant(make_app)
    assert not m.set_trio("demo-tts", "demo-llm", "demo-tts")
    assert shell.messages.history and m.trio()[0] == "demo-stt"
    assert m.set_model("demo-stt") and m.set_model("my/llm") and m.trio() == ("demo-stt", "my/llm", "demo-tts")


def test_screenshot_assistant(qtbot, make_app):
    backend = AssistantBackend()
    backend.plans["Open example"] = Plan("Done.", tool="open_url", arguments={"url": "https://example.com"},
                                         consent=True)
    backend.plans["Timer"] = Plan("Your tea timer is set for ten minutes.", tool="set_timer",
                                  arguments={"minutes": 10, "label": "tea"})
    backend.plans["Story"] = Plan("Once upon a time, in a small house by the sea, there lived an old clockmaker.")
    backend.hold_after = 9
    shell, m, _ = assistant(make_app, backend)
    shell.window.resize(800, 600)
    started(qtbot, m)
    m.send_typed("Timer")
    wait_for(qtbot, lambda: p_done(m))
    m.send_typed("Story")
    wait_for(qtbot, lambda: len(m.page.chat.bubbles("assistant")) == 2
             and len(m.page.chat.bubbles("assistant")[1].words) == 9)
    qtbot.wait(100)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "assistant.png"
    assert shell.window.grab().save(str(path))
    m.interrupt()
    wait_for(qtbot, lambda: p_done(m))
    m.send_typed("Open example")
    wait_for(qtbot, lambda: any(c.buttons.isVisible() for c in m.page.chat.cards.values()))
    qtbot.wait(100)
    assert shell.window.grab().save(str(SCREENSHOTS / "assistant-consent.png"))


def test_continue_a_conversation_from_history(qtbot, make_app, tmp_path):
    from moshi_mlx.assistant.record import AssistantRecorder

    rec = AssistantRecorder(tmp_path / "rec", "demo", meta=dict(mode="assistant", kind="assistant",
                                                                 model="demo-llm", model_name="demo-llm"))
    rec.line("User", "What is the capital of France?")
    rec.line("Assistant", "Paris.")
    rec.line("User", "Tell me about it")
    rec.line("Assistant", "Paris is a city on the—")
    rec.close()
    backend = AssistantBackend()
    shell = make_app(backend, record_dir=str(tmp_path / "rec"))
    m = shell.mode("assistant")
    m.set_trio(*("demo-stt", "demo-llm", "demo-tts"))
    shell.show_page("history")
    h = shell.history
    (s,) = [s for s in h.shown if s.mode == "assistant"]
    h.select(s)
    assert h.page.continue_button.isVisible()
    h.page.continue_button.click()
    assert shell.current_page() == "assistant"
    assert m.page.chat.transcript() == ("You: What is the capital of France?\nAssistant: Paris.\n"
                                        "You: Tell me about it\nAssistant: Paris is a city on the [cut off]")
    started(qtbot, m)
    assert backend.options[-1].history == [
        {"role": "user", "content": "What is the capital of France?"}, {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Tell me about it"},
        {"role": "assistant", "content": "Paris is a city on the", "interrupted": True}]


def test_menu_bar_item_starts_the_assistant_from_any_mode(qtbot, make_app):
    shell, m, backend = assistant(make_app)
    shell.show_page("talk")
    shell.window.hide()
    action = shell.tray.assistant_action
    assert action.isVisible() and action.isEnabled()
    action.trigger()
    wait_for(qtbot, lambda: m.state == RUNNING)
    assert shell.active_mode is m and not shell.window.isVisible() and not action.isEnabled()
    shell.toggle_active()  # the global shortcut ends it
    wait_for(qtbot, lambda: m.state == IDLE)


def test_a_non_fatal_error_is_a_note_in_the_conversation(qtbot, make_app):
    from moshi_mlx.engine.events import ErrorEvent

    shell, m, backend = assistant(make_app)
    engine = started(qtbot, m)
    engine.emit(ErrorEvent("internal", "the chat model failed\nTraceback...", fatal=False))
    wait_for(qtbot, lambda: bool(m.page.chat.items))
    assert m.page.chat.transcript() == "(Something went wrong: the chat model failed)"
    assert not shell.messages.history and m.state == RUNNING
