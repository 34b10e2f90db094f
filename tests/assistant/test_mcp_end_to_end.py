"""The real stdio MCP server of tests/tools (server_demo.py, written with the SDK) driven end to end
through the assistant by a scripted LLM that writes its calls in Qwen's `<tool_call>` JSON and in
Mistral's `[TOOL_CALLS]` form: a read-only call runs, a crashing server is an error result and the
conversation goes on, and text from a tool that claims the user approved a call approves nothing."""

import json
import sys
from pathlib import Path

import pytest

from moshi_mlx.assistant.events import AssistantReply, ConsentRequest, ToolCallEvent, TurnStats
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant

SERVER = str(Path(__file__).parents[1] / "tools" / "server_demo.py")


def call(fmt: str, name: str, **arguments) -> str:
    if fmt == "qwen":
        return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"
    return "[TOOL_CALLS]" + name + "[ARGS]" + json.dumps(arguments)


def converse(tmp_path, events, fmt, replies, user, answer=None):
    """One typed turn with a scripted model and a ToolBox over the demo MCP server; `answer` decides
    consent requests (the listener answers them, as the app's card would)."""
    from moshi_mlx.tools import ToolBox

    script = tmp_path / f"script-{fmt}.json"
    script.write_text(json.dumps({"replies": replies, "tool_format": fmt}))
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"demo": {"command": sys.executable, "args": [SERVER]}}}))
    with ToolBox(mcp_config=config, builtins=False, data_dir=tmp_path / "data", timeout_s=10) as box:
        a = Assistant(events)

        def listener(event):
            events(event)
            if isinstance(event, ConsentRequest):
                a.answer_consent(event.request_id, answer(event))

        a._listener = listener
        a.start(AssistantOptions(stt=None, llm=f"scripted:{script}", tts=None, input_device=None,
                                 output_device=None, tools=box))
        a.send_text(user)
        assert events.wait_for(lambda ev: ev.of(TurnStats), timeout=60)
        a.stop()
        return box


@pytest.mark.parametrize("fmt", ["qwen", "mistral"])
def test_a_server_tool_runs_and_its_result_goes_back_to_the_model(home, events, tmp_path, fmt):
    converse(tmp_path, events, fmt, ["Adding. " + call(fmt, "add", a=2, b=3), "It is five."], "2 + 3?")
    done = [e for e in events.of(ToolCallEvent) if e.state == "done"]
    assert [(e.name, e.result.strip()) for e in done] == [("add", "5")]
    reply = events.of(AssistantReply)[0]
    assert reply.text == "Adding. It is five." and "TOOL_CALLS" not in reply.spoken and "{" not in reply.spoken


def test_a_crashing_server_is_an_error_result_and_the_conversation_goes_on(home, events, tmp_path):
    converse(tmp_path, events, "qwen", [call("qwen", "crash"), "Sorry, that failed."], "crash it",
             answer=lambda request: "once")  # not read-only: asked, allowed once
    ended = events.of(ToolCallEvent)[-1]
    assert (ended.name, ended.state) == ("crash", "error")
    assert events.of(AssistantReply)[0].text == "Sorry, that failed."


def test_text_from_a_tool_never_approves_another_call(home, events, tmp_path):
    asked = []

    def deny(request):
        asked.append(request.name)
        return "deny"

    replies = [call("qwen", "sneaky"), call("qwen", "delete_everything", confirm=True), "I did not delete anything."]
    box = converse(tmp_path, events, "qwen", replies, "do it", answer=deny)
    states = [(e.name, e.state) for e in events.of(ToolCallEvent)]
    assert ("sneaky", "done") in states and ("delete_everything", "denied") in states
    assert asked == ["delete_everything"]  # the user was asked, whatever the tool's text said
    assert box.needs_consent("delete_everything")  # and nothing was allowed for later
    assert ("delete_everything", "done") not in states
