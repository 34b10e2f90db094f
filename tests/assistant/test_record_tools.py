"""Tool calls in an assistant session's recording (assistant/record.py): one "Tool:" line each at its
place between the turns (tool, arguments, allowed / denied, the result shortened) and the sidecar's
`tool_calls`; the line read back exactly; a session continued from them: tool messages for a chat
model with tools (its template renders them), text notes for one without."""

import json
import re

from moshi_mlx.assistant.events import ConsentRequest, TurnStats
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.record import (AssistantRecorder, ToolRecord, history_for_chat, parse_tool_line,
                                        tool_line)
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.engine.events import ErrorEvent

from .fakes import Call, FakeToolBox

STAMP = re.compile(r"^\[[0-9:.]+\] ")


def lines(path):
    return [STAMP.sub("", row) for row in path.read_text().splitlines() if STAMP.match(row)]


def test_a_tool_line_reads_back_exactly():
    r = ToolRecord("note", {"text": "café → bar: «x»", "n": [1, 2]}, "error", "bad: input → again", True)
    text = tool_line(r)
    assert text.startswith('Tool: note {"n": [1, 2], "text": "café → bar: «x»"} → error (asked): bad')
    assert parse_tool_line(text) == r
    for other in ("User: Tool: x {} → allowed", "Tool: x {bad json} → allowed", "Tool: x {} → maybe: y",
                  "Tool: x [1] → allowed", "Assistant: fine"):
        assert parse_tool_line(other) is None, other


def test_session_records_each_call_between_the_turns(home, scripted, events, tmp_path):
    tools = FakeToolBox()
    scripted([["Sure. ", Call("c1", "open_url", {"url": "https://example.com"})], "It says hello.",
              [Call("c2", "slow", {"n": 3})], "Done.",
              [Call("c3", "open_url", {"url": "https://evil.example"})], "As you wish."])
    answers = ["once", "deny"]
    a = Assistant(events)

    def listener(event):
        events(event)
        if isinstance(event, ConsentRequest):
            a.answer_consent(event.request_id, answers.pop(0))

    a._listener = listener
    a.start(AssistantOptions(stt=None, tts=None, input_device=None, output_device=None, tools=tools,
                             record_dir=str(tmp_path / "rec")))
    for i, text in enumerate(["open example", "be slow", "open evil"], 1):
        a.send_text(text)
        assert events.wait_for(lambda ev: len(ev.of(TurnStats)) == i)
    a.stop()
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    rec = a.recording_paths
    assert lines(rec["transcript"]) == [
        "User: open example",
        'Tool: open_url {"url": "https://example.com"} → allowed (asked): open_url ok',
        "Assistant: Sure. May I open example.com? It says hello.",
        "User: be slow",
        'Tool: slow {"n": 3} → allowed: slow ok',
        "Assistant: Done.",
        "User: open evil",
        'Tool: open_url {"url": "https://evil.example"} → denied (asked)',
        "Assistant: May I open evil.example? As you wish."]
    sidecar = json.loads(rec["wav"].with_suffix(".json").read_text())
    assert [(c["name"], c["arguments"], c["status"], c["result"], c["asked"], c["turn"])
            for c in sidecar["tool_calls"]] == [
        ("open_url", {"url": "https://example.com"}, "allowed", "open_url ok", True, 1),
        ("slow", {"n": 3}, "allowed", "slow ok", False, 2),
        ("open_url", {"url": "https://evil.example"}, "denied", "", True, 3)]
    assert "ended" in sidecar  # the end record kept them


def test_recorder_shortens_a_long_result_to_one_line(tmp_path):
    rec = AssistantRecorder(tmp_path, "demo", meta=dict(mode="assistant", kind="assistant", model="m"))
    rec.line("User", "search")
    r = rec.tool_call("search_history", {"query": "tea"}, "allowed", "line one\nline two " + "x" * 1000)
    rec.close()
    (line,) = [x for x in lines(rec.paths["transcript"]) if x.startswith("Tool:")]
    assert "\n" not in r.result and len(r.result) == 300 and r.result.endswith("…")
    assert parse_tool_line(line).result == r.result


def test_history_for_a_chat_with_and_without_tools():
    history = [{"role": "user", "content": "tea timer"},
               {"role": "assistant", "content": "", "tool_calls": [
                   {"id": "h1", "type": "function", "function": {"name": "set_timer", "arguments": {"minutes": 5}}}]},
               {"role": "tool", "tool_call_id": "h1", "name": "set_timer", "content": "Timer set.",
                "status": "allowed", "asked": True},
               {"role": "assistant", "content": "Five minutes."}]
    with_tools = history_for_chat(history, tools=True)
    assert with_tools[2] == {"role": "tool", "tool_call_id": "h1", "name": "set_timer", "content": "Timer set."}
    assert with_tools[:2] == history[:2] and with_tools[3] == history[3]
    assert history_for_chat(history, tools=False) == [
        {"role": "user", "content": "tea timer"},
        {"role": "assistant", "content": '[set_timer {"minutes": 5}: Timer set.] Five minutes.'}]


def _real_chat(monkeypatch):
    made = []
    original = Assistant._load_llm
    monkeypatch.setattr(Assistant, "_load_llm", lambda self, o: made.append(original(self, o)) or made[-1])
    return made


def _script(tmp_path, replies):
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"replies": replies, "tool_format": "qwen"}))
    return f"scripted:{path}"


HISTORY = [{"role": "user", "content": "tea timer"},
           {"role": "assistant", "content": "", "tool_calls": [
               {"id": "history-1", "type": "function", "function": {"name": "slow", "arguments": {"n": 1}}}]},
           {"role": "tool", "tool_call_id": "history-1", "name": "slow", "content": "slow ok", "status": "allowed"},
           {"role": "assistant", "content": "Done."}]


def test_continued_session_reads_tool_messages_into_a_chat_with_tools(home, events, tmp_path, monkeypatch):
    made = _real_chat(monkeypatch)
    a = Assistant(events)
    # the history's two assistant turns count as replies 0 and 1 of the script
    a.start(AssistantOptions(stt=None, tts=None, input_device=None, output_device=None, tools=FakeToolBox(),
                             llm=_script(tmp_path, ["-", "-", "Welcome back."]), history=HISTORY))
    a.send_text("again")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.stop()
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    (chat,) = made
    assert chat.messages[3] == {"role": "tool", "tool_call_id": "history-1", "name": "slow", "content": "slow ok"}
    assert chat.messages[-1]["content"] == "Welcome back."
    assert "<tool_response>\nslow ok\n</tool_response>" in chat.llm.tokenizer.decode(chat.render())


def test_continued_session_reads_tool_calls_as_text_without_tools(home, events, tmp_path, monkeypatch):
    made = _real_chat(monkeypatch)
    a = Assistant(events)
    a.start(AssistantOptions(stt=None, tts=None, input_device=None, output_device=None, tools=None,
                             llm=_script(tmp_path, ["-", "Welcome back."]), history=HISTORY))
    a.send_text("again")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.stop()
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    (chat,) = made
    assert [m["role"] for m in chat.messages[1:]] == ["user", "assistant", "user", "assistant"]
    assert chat.messages[2]["content"] == '[slow {"n": 1}: slow ok] Done.'
    assert chat.messages[-1]["content"] == "Welcome back."
