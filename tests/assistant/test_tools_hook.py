"""The tools hook of the Assistant: consent asked (event + spoken question) and answered, a slow tool
run off the MLX worker with one filler, the result fed back and the reply continued, denial, cancel
on barge-in, the round limit, spoken yes / no, reminders spoken."""

from moshi_mlx.assistant.events import (AssistantReply, AssistantWord, ConsentRequest, ReminderEvent,
                                        ToolCallEvent, TurnStats)
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.assistant.tool_calls import MAX_ROUNDS, spoken_decision
from moshi_mlx.engine.events import ErrorEvent

from .fakes import Call, FakeToolBox, Reminder


def opts(tools, **kw):
    return AssistantOptions(**(dict(stt=None, tts="demo-tts", input_device=None, output_device=None,
                                     seed=1, tools=tools) | kw))


def states(events):
    return [(e.name, e.state) for e in events.of(ToolCallEvent)]


def test_consent_then_a_slow_tool_with_one_filler(home, scripted, events):
    tools = FakeToolBox(delay=1.0)
    chat = scripted([["Sure. ", Call("c1", "open_url", {"url": "https://example.com"})], "It says hello."])
    a = Assistant(events)

    def listener(event):
        events(event)
        if isinstance(event, ConsentRequest):
            a.answer_consent(event.request_id, "once")

    a._listener = listener
    a.start(opts(tools))
    a.send_text("open example.com")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.stop()
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    assert states(events) == [("open_url", "asking"), ("open_url", "running"), ("open_url", "done")]
    assert events.of(ToolCallEvent)[-1].result == "open_url ok"
    assert events.of(ToolCallEvent)[-1].elapsed_s >= 1.0
    (request,) = events.of(ConsentRequest)
    assert request.question == "May I open https://example.com?"
    (reply,) = events.of(AssistantReply)
    assert reply.text == "Sure. It says hello."
    assert reply.spoken == "Sure. May I open example.com? Let me check. It says hello."  # URLs: the domain
    assert reply.heard == reply.spoken
    assert {"role": "tool", "name": "open_url", "content": "open_url ok"} in chat.messages
    assert chat.messages[1] == {"role": "assistant", "content": None, "interrupted": False, "tool_calls": ["open_url"]}
    assert tools.calls == [("open_url", {"url": "https://example.com"})]


def test_denied_call_is_told_to_the_model(home, scripted, events):
    tools = FakeToolBox()
    chat = scripted([[Call("c1", "open_url", {"url": "x"})], "As you wish."])
    a = Assistant(events)

    def listener(event):
        events(event)
        if isinstance(event, ConsentRequest):
            a.answer_consent(event.request_id, "deny")

    a._listener = listener
    a.start(opts(tools, tts=None))
    a.send_text("open x")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.stop()
    assert states(events) == [("open_url", "asking"), ("open_url", "denied")]
    assert tools.calls == []
    assert chat.messages[2]["role"] == "tool" and "did not allow" in chat.messages[2]["content"]
    assert events.of(AssistantReply)[0].text == "As you wish."


def test_barge_in_cancels_a_running_call(home, scripted, events):
    tools = FakeToolBox(delay=30.0)
    scripted([[Call("c1", "slow", {})], "never"])
    a = Assistant(events)

    def listener(event):
        events(event)
        if isinstance(event, ToolCallEvent) and event.state == "running":
            a.interrupt()

    a._listener = listener
    a.start(opts(tools, tts=None))
    a.send_text("do it")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.stop()
    assert states(events) == [("slow", "running"), ("slow", "cancelled")]
    assert tools.cancelled.wait(5)
    assert events.of(AssistantReply)[0].interrupted


def test_tool_rounds_are_limited(scripted, events):
    tools = FakeToolBox()
    scripted([[Call(f"c{i}", "slow", {})] for i in range(MAX_ROUNDS + 1)] + ["Done."])
    a = Assistant(events)
    a.start(opts(tools, tts=None))
    a.send_text("loop")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.stop()
    assert len(tools.calls) == MAX_ROUNDS
    assert states(events)[-1] == ("slow", "error")
    assert events.of(AssistantReply)[0].text == "Done."


def test_reminders_are_spoken(home, scripted, events):
    tools = FakeToolBox(reminders=[Reminder("r1", "Tea is ready.", 123.0)])
    scripted([])
    a = Assistant(events)
    a.start(opts(tools))
    assert events.wait_for(lambda ev: len(ev.of(AssistantWord)) == 3)
    a.stop()
    assert events.of(ReminderEvent) == [ReminderEvent("r1", "Tea is ready.", 123.0)]
    assert "".join(w.word for w in events.of(AssistantWord)) == " Tea is ready."


def test_spoken_answers():
    assert spoken_decision("yes please") == "once"
    assert spoken_decision("Yeah, always do that") == "always"
    assert spoken_decision("no thanks") == "deny"
    assert spoken_decision("hmm what") == "deny"


def test_a_file_turn_cannot_say_yes(home, scripted, events, tmp_path):
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "q.wav", np.zeros(24000, np.float32), 24000)
    tools = FakeToolBox()
    scripted([[Call("c1", "open_url", {"url": "https://a.example"})], "All right."])
    a = Assistant(events)
    a.start(opts(tools, stt="demo-stt", tts=None, input_wav=str(tmp_path / "q.wav")))
    assert events.stopped.wait(120)  # no hang waiting for an answer nobody can give
    assert states(events) == [("open_url", "asking"), ("open_url", "denied")]
    assert tools.calls == [] and events.of(AssistantReply)[0].text == "All right."
