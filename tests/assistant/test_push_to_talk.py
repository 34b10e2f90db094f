"""Push-to-talk over the real STT (demo-stt on noise: random words) and a scripted chat model: every
frame goes through the STT, but only the words said while the key is held count (a word the STT
writes after the press but said before it is dropped, and so are words after the release); the
release ends the turn at once, the pause detector never does (its threshold set to fire at every
frame); the press cuts a reply being spoken."""

import numpy as np
import pytest

from moshi_mlx.assistant.events import AssistantReply, AssistantWord, TurnStats, UserCaption, UserTurn
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant, _Io
from moshi_mlx.engine.events import ErrorEvent
from moshi_mlx.stt.events import TextPiece
from moshi_mlx.stt.transcriber import Transcriber

pytestmark = pytest.mark.timeout(300)
FRAME = 1920


class HeldMic:
    """A live source (the loop's clock is its reads): noise frames; `on_frame(n)` runs before frame n
    is given (the test presses and releases the key there); None (the microphone gone) after
    `last` frames or `tail` frames after `done()`."""

    live, exhausted, audio = True, False, None

    def __init__(self, on_frame, done, last=400, tail=20):
        self.rng = np.random.default_rng(0)
        self.on_frame, self.done, self.last, self.tail = on_frame, done, last, tail
        self.count, self.ended_at = 0, None

    def read(self):
        if self.ended_at is None and self.done():
            self.ended_at = self.count
        if self.count >= self.last or (self.ended_at is not None and self.count >= self.ended_at + self.tail):
            return None
        self.count += 1
        self.on_frame(self.count)
        return (0.1 * self.rng.standard_normal(FRAME)).astype(np.float32)

    def close(self):
        pass


@pytest.fixture
def heard_pieces(monkeypatch):
    """Every TextPiece the STT writes (kept or not), in order."""
    pieces = []
    push = Transcriber.push

    def recording(self, pcm):
        events = push(self, pcm)
        pieces.extend(e for e in events if isinstance(e, TextPiece) and e.text)
        return events

    monkeypatch.setattr(Transcriber, "push", recording)
    return pieces


def mic(monkeypatch, source):
    monkeypatch.setattr(_Io, "_mic", lambda self, options, emit, stop: source)


def options(**kw):
    # the pause detector would end a turn at every frame (threshold 0) and after 80 ms without a word
    return AssistantOptions(**(dict(stt="demo-stt", tts=None, input_device="test", output_device=None, seed=1,
                                    push_to_talk=True, pause_threshold=0.0, silence_timeout_s=0.08) | kw))


def kept(pieces, start_s, end_s):
    """The spec: a word counts when it starts within [start, end] of the STT's input; so do its
    pieces within it."""
    out, keep = [], None
    for p in pieces:
        inside = start_s <= p.time <= end_s
        if p.text.startswith(" ") or keep is None:
            keep = inside
        if keep and inside:
            out.append(p.text)
    return "".join(out)


def test_only_words_said_while_held_count_and_release_ends_the_turn(home, scripted, events, heard_pieces,
                                                                   monkeypatch):
    scripted(["I heard you."])
    a = Assistant(events)
    press, release = 10, 40
    at_turn = []

    def on_frame(n):
        if n == press:
            a.hold_to_talk(True)
        elif n == release:
            a.hold_to_talk(False)

    source = HeldMic(on_frame, lambda: bool(events.of(TurnStats)), last=200, tail=30)
    mic(monkeypatch, source)

    def listener(event):
        if isinstance(event, UserTurn):
            at_turn.append(source.count)
        events(event)

    a._listener = listener
    a.start(options())
    assert events.stopped.wait(300)
    assert not [e for e in events.of(ErrorEvent) if e.fatal], events.of(ErrorEvent)
    # each command is taken before the next frame: the held span is frames [press, release) of audio
    expected = kept(heard_pieces, press * FRAME / 24000, release * FRAME / 24000).strip()
    everything = "".join(p.text for p in heard_pieces).strip()
    assert expected and len(expected) < len(everything) - 5, (expected, everything)  # words on both sides dropped
    (turn,) = events.of(UserTurn)  # one turn: the pause detector ended none
    assert turn.text == expected and not turn.typed
    assert at_turn == [release]  # at the release, before another frame was heard
    assert "".join(c.text for c in events.of(UserCaption)).strip() == expected  # captions: the kept words only
    assert [r.heard for r in events.of(AssistantReply)] == ["I heard you."]
    assert source.count >= events.of(UserTurn)[0].time_s / 0.08 + 25  # it went on listening, no new turn


def test_no_turn_without_the_key(home, scripted, events, heard_pieces, monkeypatch):
    scripted(["never"])
    a = Assistant(events)
    mic(monkeypatch, HeldMic(lambda n: None, lambda: False, last=60))
    a.start(options())
    assert events.stopped.wait(300)
    assert heard_pieces  # the STT heard (random) words all along
    assert not events.of(UserTurn) and not events.of(UserCaption)


def test_press_cuts_the_reply_and_the_held_words_are_the_next_turn(home, scripted, events, heard_pieces,
                                                                  monkeypatch):
    story = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen."
    scripted([story, "Going on."])
    a = Assistant(events)
    marks = {}

    def on_frame(n):
        if n == 1:
            a.send_text("tell me a story")
        if "press" not in marks and len(events.of(AssistantWord)) >= 3:
            marks["press"] = n
            a.hold_to_talk(True)
        elif "press" in marks and "release" not in marks:
            said = [x for x in heard_pieces if x.text.startswith(" ") and x.time >= marks["press"] * FRAME / 24000]
            # demo-stt on this noise starts a word rarely (the first at 1.6 s, the next near 26 s):
            # held until one starts, then a little more
            if said and n >= 24000 * said[0].time / FRAME + 3 or n == marks["press"] + 500:
                marks["release"] = n
                a.hold_to_talk(False)

    source = HeldMic(on_frame, lambda: len(events.of(TurnStats)) >= 2, last=900)
    mic(monkeypatch, source)
    a.start(options(tts="demo-tts"))
    assert events.stopped.wait(300)
    assert not [e for e in events.of(ErrorEvent) if e.fatal], events.of(ErrorEvent)
    first = events.of(AssistantReply)[0]
    assert first.interrupted and story.startswith(first.heard) and len(first.heard.split()) >= 3
    span = (marks["press"] * FRAME / 24000, marks["release"] * FRAME / 24000)
    expected = kept(heard_pieces, *span).strip()
    turns = events.of(UserTurn)
    assert turns[0].typed and turns[0].text == "tell me a story"
    assert expected and marks["release"] < marks["press"] + 500  # a word said while held
    assert [t.text for t in turns[1:]] == [expected]
    assert events.of(AssistantReply)[1].heard == "Going on."
