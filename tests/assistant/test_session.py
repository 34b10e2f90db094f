"""The Assistant engine end to end on demo-stt / demo-tts and a scripted chat model: a typed turn
spoken into a WAV, a spoken turn from a file, barge-in (history = words heard, cut-off mark), exact
multi-turn, the tools hook (consent, a slow tool, cancel), bad input."""

import numpy as np
import soundfile as sf

from moshi_mlx.assistant.events import (AssistantReply, AssistantWord, PhaseEvent, ToolCallEvent, TurnStats,
                                        UserTurn)
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.engine.events import ErrorEvent, StateEvent


def typed(**kw):
    base = dict(stt=None, tts="demo-tts", input_device=None, output_device=None, seed=1)
    return AssistantOptions(**(base | kw))


def replies(events):
    return events.of(AssistantReply)


def test_typed_turn_spoken_into_a_wav(home, scripted, events, tmp_path):
    chat = scripted(["Hello there, *friend*. How are you?"])
    a = Assistant(events)
    a.start(typed(output_wav=str(tmp_path / "reply.wav"), record_dir=str(tmp_path / "rec")))
    a.send_text("Hi!")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.stop()
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    (reply,) = replies(events)
    assert reply.text == "Hello there, *friend*. How are you?"
    assert reply.spoken == "Hello there, friend. How are you?"
    assert reply.heard == reply.spoken and not reply.interrupted
    words = [w.word for w in events.of(AssistantWord)]
    assert "".join(words).strip() == reply.spoken
    assert events.of(UserTurn)[0].text == "Hi!" and events.of(UserTurn)[0].typed
    phases = [p.phase for p in events.of(PhaseEvent)]
    assert phases[:4] == ["listening", "thinking", "speaking", "listening"]
    stats = events.of(TurnStats)[0]
    assert {"llm_first_word", "tts_first_audio", "e2e"} <= set(stats.latency_ms)
    assert stats.latency_ms["e2e"] >= stats.latency_ms["tts_first_audio"] > 0
    assert chat.messages == [{"role": "user", "content": "Hi!"},
                             {"role": "assistant", "content": None, "interrupted": False}]
    info = sf.info(tmp_path / "reply.wav")
    assert info.samplerate == 24000 and info.frames > 10 * 1920
    assert a.output_wav == str(tmp_path / "reply.wav")
    rec = a.recording_paths
    transcript = rec["transcript"].read_text()
    assert "User: Hi!" in transcript and "Assistant: Hello there, friend. How are you?" in transcript
    assert sf.info(rec["wav"]).channels == 2
    assert [e.state for e in events.of(StateEvent)][-2:] == ["stopping", "stopped"]


def test_text_only_replies_without_tts(scripted, events):
    scripted(["First reply here.", "Second one."])
    a = Assistant(events)
    a.start(typed(tts=None))
    a.send_text("one")
    assert events.wait_for(lambda ev: len(ev.of(TurnStats)) == 1)
    a.send_text("two")
    assert events.wait_for(lambda ev: len(ev.of(TurnStats)) == 2)
    a.stop()
    assert [r.heard for r in replies(events)] == ["First reply here.", "Second one."]
    assert "".join(w.word for w in events.of(AssistantWord)) == " First reply here. Second one."
    assert "tts_first_audio" not in events.of(TurnStats)[0].latency_ms


def test_exact_multi_turn_history(home, scripted, events):
    chat = scripted(["One two.", "Three four five."])
    a = Assistant(events)
    a.start(typed())
    for i, text in enumerate(["a", "b"], 1):
        a.send_text(text)
        assert events.wait_for(lambda ev: len(ev.of(TurnStats)) == i)
    a.stop()
    assert [(r.turn, r.heard, r.interrupted) for r in replies(events)] == [
        (1, "One two.", False), (2, "Three four five.", False)]
    assert [m["role"] for m in chat.messages] == ["user", "assistant", "user", "assistant"]
    assert [w.turn for w in events.of(AssistantWord)] == [1, 1, 2, 2, 2]


def test_interrupt_keeps_the_words_heard(home, scripted, events):
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen."
    chat = scripted([text, "Fine."])
    a = Assistant(events)

    def listener(event):
        events(event)
        if isinstance(event, AssistantWord) and len(events.of(AssistantWord)) == 3:
            a.interrupt()  # from the worker thread: handled before the next frame

    a._listener = listener
    a.start(typed())
    a.send_text("count")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    (reply,) = replies(events)
    assert reply.interrupted and reply.text != text  # generation stopped too
    assert reply.heard == "one two three"
    assert chat.messages[-1] == {"role": "assistant", "content": "one two three", "interrupted": True}
    a.send_text("again")  # the chat is consistent: a new turn works
    assert events.wait_for(lambda ev: len(ev.of(TurnStats)) == 2)
    a.stop()
    assert replies(events)[-1].heard == "Fine."


def test_send_text_during_a_reply_cuts_it(home, scripted, events):
    scripted(["alpha beta gamma delta epsilon zeta eta theta iota kappa.", "Ok."])
    a = Assistant(events)

    def listener(event):
        events(event)
        if isinstance(event, AssistantWord) and event.turn == 1 and len(events.of(AssistantWord)) == 2:
            a.send_text("stop that")

    a._listener = listener
    a.start(typed())
    a.send_text("go")
    assert events.wait_for(lambda ev: len(ev.of(TurnStats)) == 2)
    a.stop()
    first, second = replies(events)
    assert first.interrupted and first.heard == "alpha beta"
    assert not second.interrupted and second.heard == "Ok."
    assert [u.text for u in events.of(UserTurn)] == ["go", "stop that"]


def test_llm_failing_mid_reply_is_not_fatal(home, scripted, events):
    scripted([["Hello there my ", RuntimeError("the model broke")], "Back again."])
    a = Assistant(events)
    a.start(typed())
    a.send_text("hi")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.send_text("hi again")
    assert events.wait_for(lambda ev: len(ev.of(TurnStats)) == 2)
    a.stop()
    (error,) = events.of(ErrorEvent)
    assert not error.fatal and error.kind == "llm" and "the model broke" in error.message
    assert "\n" not in error.message
    first, second = replies(events)
    assert first.interrupted and first.heard == "Hello there my"
    assert second.heard == "Back again." and not second.interrupted


def test_missing_voice_is_one_clear_error(home, scripted, events):
    scripted(["x"])
    a = Assistant(events)
    a.start(typed(voice="no-such-voice"))
    assert events.stopped.wait(120)
    (error,) = events.of(ErrorEvent)
    assert error.fatal and error.kind == "voice" and "no-such-voice" in error.message
    assert "Traceback" not in error.message


def test_spoken_turn_from_a_file(home, scripted, events, tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "q.wav", (0.1 * rng.standard_normal(24000 * 2)).astype(np.float32), 24000)
    scripted(["I heard you."])
    a = Assistant(events)
    a.start(AssistantOptions(stt="demo-stt", tts="demo-tts", input_device=None, output_device=None,
                             input_wav=str(tmp_path / "q.wav"), output_wav=str(tmp_path / "r.wav"), seed=3))
    assert events.stopped.wait(300)  # the session ends after the file's turn
    assert not [e for e in events.of(ErrorEvent) if e.fatal], events.of(ErrorEvent)
    (turn,) = events.of(UserTurn)
    assert not turn.typed and turn.text  # demo-stt: random words, or "..." when it wrote none
    (reply,) = replies(events)
    assert reply.heard == "I heard you."
    stats = events.of(TurnStats)[0].latency_ms
    assert {"end_of_turn", "stt_flush", "llm_first_word", "tts_first_audio", "e2e"} <= set(stats)
    assert sf.info(tmp_path / "r.wav").frames > 0


def real_chat(monkeypatch):
    """The ChatLLM the next Assistant makes (the real one), kept for the test to inspect."""
    made = []
    original = Assistant._load_llm

    def load(self, options):
        made.append(original(self, options))
        return made[-1]

    monkeypatch.setattr(Assistant, "_load_llm", load)
    return made


def script(tmp_path, replies, name="script.json"):
    import json

    path = tmp_path / name
    path.write_text(json.dumps({"replies": replies, "tool_format": "qwen"}))
    return f"scripted:{path}"


def test_scripted_llm_multi_turn_and_barge_in_keep_the_cache_consistent(home, events, tmp_path, monkeypatch):
    made = real_chat(monkeypatch)
    spec = script(tmp_path, ["Hello there, nice to meet you today my friend.", "Sure thing.", "Goodbye now."])
    a = Assistant(events)

    def listener(event):
        events(event)
        if isinstance(event, AssistantWord) and event.turn == 1 and event.word == " there,":
            a.interrupt()

    a._listener = listener
    a.start(typed(llm=spec, greedy=True))
    for i, text in enumerate(["hi", "again", "bye"], 1):
        a.send_text(text)
        assert events.wait_for(lambda ev: len(ev.of(TurnStats)) == i)
    a.stop()
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    first, second, third = replies(events)
    assert first.interrupted and first.heard == "Hello there,"
    assert (second.text, second.heard) == ("Sure thing.", "Sure thing.")
    assert (third.text, third.heard) == ("Goodbye now.", "Goodbye now.")
    (chat,) = made
    assert chat.messages[0]["role"] == "system"  # the preset's
    assert [(m["role"], m["content"], m.get("interrupted", False)) for m in chat.messages[1:]] == [
        ("user", "hi", False), ("assistant", "Hello there,", True), ("user", "again", False),
        ("assistant", "Sure thing.", False), ("user", "bye", False), ("assistant", "Goodbye now.", False)]


def test_scripted_llm_tool_call_runs_and_the_reply_continues(home, events, tmp_path, monkeypatch):
    from .fakes import FakeToolBox

    made = real_chat(monkeypatch)
    call = '<tool_call>\n{"name": "slow", "arguments": {"n": 1}}\n</tool_call>'
    spec = script(tmp_path, ["One moment. " + call, "Done it is."])
    tools = FakeToolBox()
    a = Assistant(events)
    a.start(typed(llm=spec, tts=None, tools=tools))
    a.send_text("do it")
    assert events.wait_for(lambda ev: ev.of(TurnStats))
    a.stop()
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    assert tools.calls == [("slow", {"n": 1})]
    assert [(e.name, e.state) for e in events.of(ToolCallEvent)] == [("slow", "running"), ("slow", "done")]
    (reply,) = replies(events)
    assert reply.text == "One moment. Done it is." and not reply.interrupted
    roles = [m["role"] for m in made[0].messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert made[0].messages[3]["content"] == "slow ok"


def test_a_folder_that_is_not_an_mlx_lm_model(events, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    a = Assistant(events)
    a.start(typed(llm=str(tmp_path), tts=None))
    assert events.stopped.wait(60)
    (error,) = events.of(ErrorEvent)
    assert error.fatal and "config.json" in error.message and "\n" not in error.message
