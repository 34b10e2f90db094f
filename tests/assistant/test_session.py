"""The Assistant engine end to end on demo-stt / demo-tts and a scripted chat model: a typed turn
spoken into a WAV, a spoken turn from a file, barge-in (history = words heard, cut-off mark), exact
multi-turn, the tools hook (consent, a slow tool, cancel), bad input."""

import threading
import time

import numpy as np
import soundfile as sf

from moshi_mlx.assistant.events import (AssistantReply, AssistantWord, ConsentRequest, PhaseEvent,
                                        ToolCallEvent, TurnStats, UserTurn)
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.engine.events import ErrorEvent, StateEvent

from .fakes import Call


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
