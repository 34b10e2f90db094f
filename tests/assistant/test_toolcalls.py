"""Tool calls recognised in the reply stream with mlx-lm's own parsers (Qwen/Hermes JSON and
Mistral [TOOL_CALLS]), driven by scripted replies through ChatLLM; thinking hidden; no markup spoken."""

import json
import shutil

import pytest

from moshi_mlx.assistant.llm import ChatLLM, LlmSettings, load_llm
from moshi_mlx.assistant.scripted import scripted_llm
from moshi_mlx.assistant.toolcalls import StreamSplitter, ToolCall
from tests.support.llm import TOOLS, llm_home, run_reply  # noqa: F401

MARKUP = ("<tool_call>", "</tool_call>", "[TOOL_CALLS]", "[ARGS]", '"arguments"', "<think>", "</think>", "{")


def _visible(pieces):
    return "".join(p.text for p in pieces)


def _calls(pieces):
    return [p.tool_call for p in pieces if p.tool_call is not None]


def _check_no_markup(pieces):
    for p in pieces:
        assert not any(m in p.text for m in MARKUP), p
        assert p.tool_call is None or p.text == ""


def test_qwen_calls_then_tool_results_then_the_answer(llm_home):
    replies = ['Let me check. <tool_call>\n{"name": "get_time", "arguments": {"tz": "UTC"}}\n</tool_call>\n'
               '<tool_call>\n{"name": "set_timer", "arguments": {"minutes": 10}}\n</tool_call>',
               "It is noon, and the timer is set."]
    llm = scripted_llm(replies, "qwen", llm_home)
    chat = ChatLLM(llm, "Be brief.", LlmSettings(), tools=TOOLS)
    assert chat.supports_tools and chat.tools == TOOLS
    pieces, last = run_reply(chat, "What time is it? And set a timer.")
    _check_no_markup(pieces)
    assert _visible(pieces) == "Let me check. "
    calls = _calls(pieces)
    assert [(c.name, c.arguments) for c in calls] == [("get_time", {"tz": "UTC"}), ("set_timer", {"minutes": 10})]
    assert len({c.call_id for c in calls}) == 2 and last.finish_reason == "stop"
    # the text before a call comes out before the call
    assert pieces.index(next(p for p in pieces if p.tool_call)) > max(i for i, p in enumerate(pieces) if p.text)
    for call, result in zip(calls, ["12:00 UTC", "timer set"]):
        chat.add_tool_result(call, result)  # closes the reply
    assert chat.messages[-3]["tool_calls"] == [c.to_message() for c in calls]
    assert [m["role"] for m in chat.messages[-2:]] == ["tool", "tool"]
    pieces, last = run_reply(chat, None)
    assert _visible(pieces) == replies[1]
    prompt = llm.tokenizer.decode(chat.render())
    assert "<tool_response>\n12:00 UTC\n</tool_response>" in prompt and '"name": "set_timer"' in prompt
    assert chat.end_reply().tool_calls == ()


@pytest.mark.parametrize("call_text", [
    'get_time[ARGS]{"tz": "UTC"}set_timer[ARGS]{"minutes": 10}',
    '[{"name": "get_time", "arguments": {"tz": "UTC"}}, {"name": "set_timer", "arguments": {"minutes": 10}}]',
])
def test_mistral_calls_run_to_the_end_of_the_reply(llm_home, call_text):
    llm = scripted_llm(["Sure.[TOOL_CALLS]" + call_text, "Done: noon."], "mistral", llm_home)
    assert llm.tokenizer.tool_call_start == "[TOOL_CALLS]" and llm.tokenizer.tool_call_end == ""
    chat = ChatLLM(llm, None, LlmSettings(), tools=TOOLS)
    pieces, last = run_reply(chat, "Time and timer?")
    _check_no_markup(pieces)
    assert _visible(pieces) == "Sure."
    calls = _calls(pieces)
    assert [(c.name, c.arguments) for c in calls] == [("get_time", {"tz": "UTC"}), ("set_timer", {"minutes": 10})]
    reply = chat.end_reply()
    assert reply.tool_calls == tuple(calls) and reply.text == "Sure."
    for call in calls:
        chat.add_tool_result(call, "ok")
    assert "[TOOL_RESULTS]ok[/TOOL_RESULTS]" in llm.tokenizer.decode(chat.render())
    pieces, _ = run_reply(chat, None)
    assert _visible(pieces) == "Done: noon."


def test_a_call_the_parser_rejects_is_dropped_not_spoken(llm_home):
    llm = scripted_llm(["<tool_call>\nnot json at all\n</tool_call>\nSorry, I cannot do that."], "qwen", llm_home)
    chat = ChatLLM(llm, None, LlmSettings(), tools=TOOLS)
    pieces, _ = run_reply(chat, "Hi")
    _check_no_markup(pieces)
    assert _visible(pieces) == "Sorry, I cannot do that." and _calls(pieces) == []


def test_a_call_cut_off_by_a_barge_in_is_not_made(llm_home):
    llm = scripted_llm(['OK. <tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'], "qwen", llm_home)
    chat = ChatLLM(llm, None, LlmSettings(), tools=TOOLS)
    chat.begin_reply("Time?")
    for _ in range(6):
        assert chat.step().tool_call is None
    reply = chat.end_reply(heard="OK.", interrupted=True)
    assert reply.tool_calls == () and "tool_calls" not in chat.messages[-1]


def test_thinking_is_never_returned(llm_home):
    llm = scripted_llm(["<think>\nThe user greets me.\n</think>\n\nHello!"], "qwen", llm_home)
    chat = ChatLLM(llm, None, LlmSettings())
    pieces, _ = run_reply(chat, "Hi")
    assert _visible(pieces) == "Hello!"
    # thinking on: the demo template opens the thought in the prompt; the model closes it
    llm = scripted_llm(["<think>\nHmm.\n</think>\n\nHi there."], "qwen", llm_home)
    chat = ChatLLM(llm, None, LlmSettings(thinking=True))
    chat.begin_reply("Hi")
    assert llm.tokenizer.decode(chat.render()).endswith("<|im_start|>assistant\n<think>\n")
    pieces = []
    while not (p := chat.step()).done:
        pieces.append(p)
    assert _visible(pieces) == "Hi there."


def test_a_model_without_tool_calling_ignores_tools(llm_home, tmp_path):
    folder = tmp_path / "notools"
    shutil.copytree(load_llm("demo-llm", llm_home).path, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                               "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    llm = load_llm(str(folder))
    chat = ChatLLM(llm, None, LlmSettings(max_tokens=2), tools=TOOLS)
    assert not chat.supports_tools and chat.tools is None
    chat.begin_reply("Hi")
    assert "get_time" not in llm.tokenizer.decode(chat.render())
    chat.end_reply()


class _Tok:
    has_tool_calling = True
    tool_call_start, tool_call_end = "<tool_call>", "</tool_call>"
    has_thinking = True
    think_start, think_end = "<think>", "</think>"

    @staticmethod
    def tool_parser(text, tools):
        return json.loads(text)


def test_markers_split_across_deltas_are_held_back():
    ids = iter(range(1, 100))
    s = StreamSplitter(_Tok(), None, lambda: f"c{next(ids)}")
    out = []
    for delta in ["Hi <", "tool", "_ca", 'll>{"name": "f", "argu', 'ments": {"a": 1}}</tool', "_call>", " bye <",
                  "thi", "nk>secret</th", "ink> end <b"]:
        out += s.feed(delta)
    out += s.finish()
    assert out == ["Hi ", ToolCall("c1", "f", {"a": 1}), "bye ", "end <b"]
    assert "".join(x for x in out if isinstance(x, str)).count("<") == 1  # only the real text's "<b"
