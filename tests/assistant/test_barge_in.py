"""Barge-in by the user's voice, at the frame loop's level: the STT side scripted (a word while the
assistant speaks), the TTS the demo's. The reply stops within the frame that heard the word (no
audio after it), the history keeps the words heard, marked cut off, and the next turn goes on."""

import queue
import threading
import time

from moshi_mlx.assistant.conversation import Conversation
from moshi_mlx.assistant.events import AssistantReply, AssistantWord, TurnStats, UserTurn
from moshi_mlx.assistant.listening import Heard
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.assistant.speaking import VoiceOutput
from moshi_mlx.assistant.turn import TurnDetector
from moshi_mlx.engine import mlx_worker

from .fakes import ScriptedChat


class Source:
    live = False
    exhausted = False

    def close(self):
        pass


class ScriptedEars:
    """Ears' interface: the user says "hello", ends their turn, then says "wait" once the assistant
    has spoken `cut_after` words; the loop ends `tail` frames after the second reply."""

    def __init__(self, log, cut_after=3):
        self.source, self.detector = Source(), TurnDetector()
        self.log, self.cut_after = log, cut_after
        self.frames, self.text, self.last_word_at, self.cut = 0, "", None, False

    time_s = property(lambda self: self.frames * 0.08)

    def frame(self, speaking=False):
        self.frames += 1
        words = sum(1 for e in self.log if isinstance(e, AssistantWord))
        if self.frames == 2 or (self.cut and self.frames == self.cut + 2):
            said = " hello" if not self.cut else " go on"
            self.text, self.last_word_at = self.text + said, time.perf_counter()
            return Heard(said, 1, None)
        if self.frames == 4 or (self.cut and self.frames == self.cut + 4):
            return Heard("", 0, "end_of_turn")
        if speaking and not self.cut and words >= self.cut_after:
            self.cut = self.frames
            self.log.append("barge-in")
            self.text = " wait"
            return Heard(" wait", 1, "barge_in")
        if len([e for e in self.log if isinstance(e, TurnStats)]) == 2:
            return None  # end of the test
        return Heard("", 0, None)

    def flush(self):
        return ""

    def take_turn(self):
        text, self.text = self.text.strip(), ""
        return text

    def close(self):
        pass


def test_a_word_from_the_user_stops_the_reply_within_the_frame(home, events):
    log = events
    chat = ScriptedChat(["one two three four five six seven eight nine ten eleven twelve.", "Going on."])

    def body():
        synth = Assistant(events)._load_tts(AssistantOptions(stt=None, tts="demo-tts", seed=1))
        output = VoiceOutput()
        speak = output.speak
        output.speak = lambda pcm: (log.append("audio"), speak(pcm))
        ears = ScriptedEars(log)
        Conversation(chat=chat, synth=synth, ears=ears, output=output, tools=None, recorder=None, emit=events,
                     stop=threading.Event(), commands=queue.SimpleQueue(), wake=threading.Event()).run()

    mlx_worker.submit(body).result(timeout=120)
    cut = log.index("barge-in")
    first_reply = next(i for i, e in enumerate(log) if isinstance(e, AssistantReply))
    assert "audio" not in log[cut:first_reply]  # nothing more was spoken once the word was heard
    first, second = events.of(AssistantReply)
    assert first.interrupted and first.heard == "one two three"
    assert not second.interrupted and second.heard == "Going on."
    assert [t.text for t in events.of(UserTurn)] == ["hello", "wait go on"]
    assert chat.messages[1] == {"role": "assistant", "content": "one two three", "interrupted": True}


class ConsentEars(ScriptedEars):
    """The user asks, then answers the spoken consent question with `answer`; ends after one reply."""

    def __init__(self, log, answer):
        super().__init__(log)
        self.answer, self.answered = answer, None

    def frame(self, speaking=False):
        self.frames += 1
        if self.frames == 2:
            self.text, self.last_word_at = " open it", time.perf_counter()
            return Heard(" open it", 2, None)
        if self.frames == 4:
            return Heard("", 0, "end_of_turn")
        asked = any(getattr(e, "question", None) for e in self.log)
        if asked and self.answered is None:
            self.answered = self.frames
            self.text += " " + self.answer
            return Heard(" " + self.answer, 1, None)
        if self.answered and self.frames == self.answered + 1:
            return Heard("", 0, "end_of_turn")
        if any(isinstance(e, TurnStats) for e in self.log):
            return None
        return Heard("", 0, None)


def test_consent_answered_by_voice(home, events):
    from moshi_mlx.assistant.events import ToolCallEvent

    from .fakes import Call, FakeToolBox

    results = {}
    for answer, expected in (("yes please", "done"), ("no", "denied")):
        events.clear()
        tools = FakeToolBox()
        chat = ScriptedChat([[Call("c1", "open_url", {"url": "https://a.example"})], "Fine."])

        def body():
            Conversation(chat=chat, synth=None, ears=ConsentEars(events, answer), output=VoiceOutput(), tools=tools,
                         recorder=None, emit=events, stop=threading.Event(), commands=queue.SimpleQueue(),
                         wake=threading.Event()).run()

        mlx_worker.submit(body).result(timeout=60)
        results[answer] = [e.state for e in events.of(ToolCallEvent)]
        assert results[answer][-1] == expected, results
        assert len(tools.calls) == (1 if expected == "done" else 0)
        assert [t.text for t in events.of(UserTurn)] == ["open it"]  # the answer is not a new turn
        assert events.of(AssistantReply)[0].text == "Fine."
