"""Tool calls of recorded assistant sessions in History: shown with the transcript when the session
is opened, found by its search, and read back by "Continue" as tool messages (the call, then its
result) with their cards in the conversation; a running session's calls join the history the next
session's chat model reads."""

from __future__ import annotations

import pytest

from moshi_mlx.assistant.record import AssistantRecorder

from .assistant_fakes import AssistantBackend, Plan
from .test_assistant_mode import assistant, p_done, started
from .conftest import wait_for

pytestmark = pytest.mark.timeout(120)

META = dict(mode="assistant", kind="assistant", model="demo-llm", model_name="demo-llm")


def record(folder, turns):
    rec = AssistantRecorder(folder, "demo", meta=META)
    for turn in turns:
        if turn[0] == "Tool":
            rec.tool_call(*turn[1:])
        else:
            rec.line(*turn)
    rec.close()
    return rec


def test_tool_calls_shown_searched_and_continued(qtbot, make_app, tmp_path):
    import time

    folder = tmp_path / "rec"
    record(folder, [("User", "Set a tea timer"),
                               ("Tool", "set_timer", {"minutes": 5, "label": "tea"}, "allowed", "Timer set: Timer: tea at 14:05"),
                               ("Assistant", "Your tea timer is set."),
                               ("User", "Open my bank"),
                               ("Tool", "open_url", {"url": "https://bank.example"}, "denied", "", True),
                               ("Assistant", "All right, I won't.")])
    time.sleep(1.1)  # the next recording gets its own name (its start second)
    AssistantRecorder(folder, "demo", meta=META).line("User", "Hello there")
    backend = AssistantBackend()
    shell = make_app(backend, record_dir=str(folder))
    m = shell.mode("assistant")
    assert m.set_trio("demo-stt", "demo-llm", "demo-tts")
    shell.show_page("history")
    h = shell.history
    assert len([s for s in h.shown if s.mode == "assistant"]) == 2
    h.page.search.setText("set_timer")  # a tool's name finds the session that called it
    (s,) = h.shown
    h.page.search.setText("bank.example denied")
    assert [x.base for x in h.shown] == [s.base]
    h.page.search.clear()
    h.select(s)
    shown = [h.page.transcript.item(i).text().split("   ", 1)[1] for i in range(h.page.transcript.count())]
    assert shown == ["User: Set a tea timer",
                     'Tool: set_timer {"label": "tea", "minutes": 5} → allowed: Timer set: Timer: tea at 14:05',
                     "Assistant: Your tea timer is set.", "User: Open my bank",
                     'Tool: open_url {"url": "https://bank.example"} → denied (asked)',
                     "Assistant: All right, I won't."]
    h.page.continue_button.click()
    assert shell.current_page() == "assistant"
    chat = m.page.chat
    assert chat.transcript().splitlines() == [
        "You: Set a tea timer", "[set_timer(label: tea, minutes: 5)] Done: Timer set: Timer: tea at 14:05",
        "Assistant: Your tea timer is set.", "You: Open my bank",
        "[open_url(url: https://bank.example)] Denied: The user did not allow this tool call.",
        "Assistant: All right, I won't."]
    started(qtbot, m)
    timer_call = {"id": "history-1", "type": "function",
                  "function": {"name": "set_timer", "arguments": {"minutes": 5, "label": "tea"}}}
    assert backend.options[-1].history == [
        {"role": "user", "content": "Set a tea timer"},
        {"role": "assistant", "content": "", "tool_calls": [timer_call]},
        {"role": "tool", "tool_call_id": "history-1", "name": "set_timer",
         "content": "Timer set: Timer: tea at 14:05", "status": "allowed"},
        {"role": "assistant", "content": "Your tea timer is set."},
        {"role": "user", "content": "Open my bank"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "history-2", "type": "function",
             "function": {"name": "open_url", "arguments": {"url": "https://bank.example"}}}]},
        {"role": "tool", "tool_call_id": "history-2", "name": "open_url",
         "content": "Error: The user did not allow this tool call.", "status": "denied", "asked": True},
        {"role": "assistant", "content": "All right, I won't."}]


def test_a_running_sessions_tool_calls_join_the_history(qtbot, make_app):
    backend = AssistantBackend()
    backend.plans["Add"] = Plan("It is four.", tool="calculator", arguments={"expression": "2+2"})
    shell, m, _ = assistant(make_app, backend)
    started(qtbot, m)
    m.send_typed("Add")
    wait_for(qtbot, lambda: p_done(m))
    assert [x["role"] for x in m.history] == ["user", "assistant", "tool", "assistant"]
    assert m.history[1]["tool_calls"][0]["function"] == {"name": "calculator", "arguments": {"expression": "2+2"}}
    assert m.history[2]["content"] == "2+2 = 4" and m.history[2]["status"] == "allowed"


def test_a_call_the_user_was_asked_about_is_marked_so(qtbot, make_app):
    backend = AssistantBackend()
    backend.plans["Open example"] = Plan("Opened it.", tool="open_url", arguments={"url": "https://example.com"},
                                         consent=True, result="opened")
    shell, m, _ = assistant(make_app, backend)
    started(qtbot, m)
    m.send_typed("Open example")
    chat = m.page.chat
    wait_for(qtbot, lambda: bool(chat.cards) and next(iter(chat.cards.values())).buttons.isVisible())
    next(iter(chat.cards.values())).deny_button.click()
    wait_for(qtbot, lambda: p_done(m))
    tool = [x for x in m.history if x["role"] == "tool"]
    assert tool == [{"role": "tool", "tool_call_id": "call-1", "name": "open_url",
                     "content": "Error: The user did not allow this tool call.", "status": "denied", "asked": True}]
