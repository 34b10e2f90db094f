"""The engine with the real ToolBox (moshi_mlx/tools): a scripted model calls the calculator (no
consent), then opens a URL (consent asked; the test's system opener records instead of opening)."""

import json

from moshi_mlx.assistant.events import AssistantReply, ConsentRequest, ToolCallEvent, TurnStats
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.engine.events import ErrorEvent


def script(tmp_path, replies):
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"replies": replies, "tool_format": "qwen"}))
    return f"scripted:{path}"


def call(name, **arguments):
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def test_calculator_through_the_real_toolbox(home, events, tmp_path):
    from moshi_mlx.tools import ToolBox

    spec = script(tmp_path, ["Let me see. " + call("calculator", expression="2+3*4"), "It is fourteen."])
    with ToolBox(data_dir=tmp_path / "data", history_dir=tmp_path, notes_path=tmp_path / "notes.md") as box:
        a = Assistant(events)
        a.start(AssistantOptions(stt=None, llm=spec, tts=None, input_device=None, output_device=None, tools=box))
        a.send_text("what is 2 + 3 * 4?")
        assert events.wait_for(lambda ev: ev.of(TurnStats))
        a.stop()
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    done = events.of(ToolCallEvent)[-1]
    assert (done.name, done.state) == ("calculator", "done") and "14" in done.result
    assert events.of(AssistantReply)[0].text == "Let me see. It is fourteen."


def test_open_url_asks_first(home, events, tmp_path):
    from moshi_mlx.tools import ToolBox

    spec = script(tmp_path, [call("open_url", url="https://example.com"), "Done."])
    with ToolBox(data_dir=tmp_path / "data", history_dir=tmp_path, notes_path=tmp_path / "notes.md") as box:
        a = Assistant(events)

        def listener(event):
            events(event)
            if isinstance(event, ConsentRequest):
                a.answer_consent(event.request_id, "deny")

        a._listener = listener
        a.start(AssistantOptions(stt=None, llm=spec, tts=None, input_device=None, output_device=None, tools=box))
        a.send_text("open example.com")
        assert events.wait_for(lambda ev: ev.of(TurnStats))
        a.stop()
    (request,) = events.of(ConsentRequest)
    assert "example.com" in request.question
    assert [e.state for e in events.of(ToolCallEvent)] == ["asking", "denied"]
    assert events.of(AssistantReply)[0].text == "Done."
