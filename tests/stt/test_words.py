"""Word times, end of turn and the transcript files on synthetic cases where the answer is known:
a scripted text stream (the tokens a model would write for words said at chosen times) goes through
the real Transcriber (codec, padding, clock, words) in place of the LM."""

import json

import numpy as np
import pytest

from moshi_mlx.lm.generate import StepOutput
from moshi_mlx.stt.events import EndOfTurn, TextPiece, Word
from moshi_mlx.stt.formats import make_writer
from moshi_mlx.stt.transcriber import Transcriber
from moshi_mlx.stt.words import WordTimer

EPAD, PAD = 0, 3


class ScriptedGen:
    """Stands in for LmGen: writes `script[frame]` (PAD elsewhere) and head probabilities
    `pause[frame]`, with LmGen's call pattern (the transcriber's first call is dropped)."""

    def __init__(self, script: dict[int, int], pause: dict[int, float] | None = None, heads: int = 4):
        self.script, self.pause, self.heads = script, pause or {}, heads
        self.calls = []

    def reset(self, seed=None):
        self.calls, self.frame = [], -1

    def step(self, codes):
        self.calls.append("step")
        self.frame = -1  # the first output: dropped by the transcriber

    def submit(self, codes):
        assert np.asarray(codes).shape == (32,)
        self.calls.append("submit")
        self.frame += 1

    def collect(self):
        probs = None
        if self.heads:
            probs = np.full((self.heads, 6), 1 / 6, np.float32)
            probs[2, 0] = self.pause.get(self.frame, 0.0)
        return StepOutput(self.script.get(self.frame, PAD), np.zeros(0, np.int32), probs)


@pytest.fixture(scope="module")
def stt_model(demo_stt_home):
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model

    return load_model(resolve_model("demo-stt", cache_dir=str(demo_stt_home)))


def scripted(model, settings, script, pause=None, heads=4):
    import dataclasses

    tr = Transcriber(model)
    tr.settings = dataclasses.replace(tr.settings, **settings)
    tr.gen = ScriptedGen(script, pause, heads)
    tr.has_end_of_turn = heads > 2
    tr.reset()
    return tr


def place(sp, words: list[tuple[str, int]]) -> dict[int, int]:
    """Kyutai's text stream for words whose first piece is at the given frames: an end-of-padding
    token on the frame before, then the pieces on consecutive frames."""
    script = {}
    for word, frame in words:
        script[frame - 1] = EPAD
        for i, token in enumerate(sp.encode(word)):
            script[frame + i] = token
    return script


def events_of(tr, pcm, block=1000):
    out = []
    for i in range(0, len(pcm), block):
        out += tr.push(pcm[i:i + block])
    return out + tr.flush()


def test_word_times_with_prefix_and_delay(stt_model):
    """Kyutai's STT 2.6B settings: 1 s of silence before, text 2.5 s behind. A word whose first
    piece the model writes on frame f was said at f * 0.08 - 3.5 s; it ends where the next word's
    end-of-padding is, and the last one at most 1 s after its start."""
    sp = stt_model.tokenizer
    # said at 0.5 s, 1.3 s, 2.02 s ("are you" without an end-of-padding between them), 4.02 s
    script = place(sp, [("hello", 50), ("how", 60), ("are", 69)])
    script.update(dict(enumerate(sp.encode("you"), start=72)))
    script.update(place(sp, [("today", 94)]))
    tr = scripted(stt_model, {"prefix_s": 1.0, "delay_s": 2.5}, script, heads=0)
    pcm = np.zeros(int(4.5 * 24000), np.float32)  # the words' audio does not matter to a script
    events = events_of(tr, pcm)
    words = [e for e in events if isinstance(e, Word)]
    assert [w.text for w in words] == ["hello", "how", "are", "you", "today"]
    got = [(round(w.start, 6), round(w.end, 6)) for w in words]
    assert got == [(0.5, 1.22), (1.3, 1.94), (2.02, 2.26), (2.26, 3.94), (4.02, 4.5)]
    # frames: (1 s + 4.5 s audio + 2.5 + 1 s tail) / 80 ms, the last partial frame dropped
    assert tr.frames == int((24000 + len(pcm) + 3.5 * 24000) // 1920)
    assert tr.gen.calls[:3] == ["step", "submit", "submit"]
    text = "".join(e.text for e in events if isinstance(e, TextPiece))
    assert text.split() == ["hello", "how", "are", "you", "today"]
    pieces = [e for e in events if isinstance(e, TextPiece)]
    assert pieces[0].time == pytest.approx(0.5) and not any(isinstance(e, EndOfTurn) for e in events)


def test_end_of_turn_closes_the_turn_once(stt_model):
    """Kyutai STT 1B settings (0.5 s delay, no prefix): end of turn when head 2's first probability
    goes above 0.5, once per turn, never before any text; it finishes the turn's last word."""
    sp = stt_model.tokenizer
    script = place(sp, [("hello", 10), ("music", 40)])
    pause = {5: 0.9, 20: 0.4, 21: 0.7, 22: 0.8, 30: 0.9, 50: 0.6}
    tr = scripted(stt_model, {"prefix_s": 0.0, "delay_s": 0.5}, script, pause)
    events = events_of(tr, np.zeros(5 * 24000, np.float32), block=1920)
    kinds = [(type(e).__name__, getattr(e, "text", None)) for e in events
             if isinstance(e, (Word, EndOfTurn))]
    assert kinds == [("Word", "hello"), ("EndOfTurn", None), ("Word", "music"), ("EndOfTurn", None)]
    turns = [e for e in events if isinstance(e, EndOfTurn)]
    assert [round(t.time, 6) for t in turns] == [21 * 0.08 - 0.5, 50 * 0.08 - 0.5]
    assert turns[0].probability == pytest.approx(0.7)
    hello, music = (e for e in events if isinstance(e, Word))
    assert (round(hello.start, 6), round(hello.end, 6)) == (0.3, 1.18)  # 10 * 0.08 - 0.5; end of turn
    assert (round(music.start, 6), round(music.end, 6)) == (2.7, 3.5)
    assert tr.pause_probability == pytest.approx(0.0)


def test_no_heads_no_end_of_turn(stt_model):
    script = place(stt_model.tokenizer, [("hello", 10)])
    tr = scripted(stt_model, {"prefix_s": 0.0, "delay_s": 0.5}, script, {12: 0.99}, heads=0)
    events = events_of(tr, np.zeros(24000, np.float32))
    assert not any(isinstance(e, EndOfTurn) for e in events) and tr.pause_probability is None
    # the last word ends at most 1 s after its start, within the audio (1 s)
    assert [(w.text, round(w.start, 6), round(w.end, 6)) for w in events if isinstance(w, Word)] == \
        [("hello", 0.3, 1.0)]


def test_push_after_flush_needs_reset(stt_model):
    tr = scripted(stt_model, {"prefix_s": 0.0, "delay_s": 0.5}, {})
    tr.push(np.zeros(100, np.float32))
    tr.flush()
    assert tr.flush() == []
    with pytest.raises(RuntimeError, match="reset"):
        tr.push(np.zeros(100, np.float32))
    tr.reset()
    assert tr.frames == 0 and tr.duration == 0 and tr.push(np.zeros(1920, np.float32)) == []


def test_word_timer_boundaries(stt_model):
    """Pieces join across padding until the next word-initial piece or end of padding; special
    tokens are boundaries; tokens outside the vocabulary are ignored."""
    sp = stt_model.tokenizer
    timer = WordTimer(sp, lambda f: f / 10)
    h, el, lo = sp.encode("hello")
    out = []
    for frame, token in enumerate([PAD, h, el, PAD, lo, 9999, sp.encode("you")[0], 2, PAD]):
        out += timer.push(token, frame)
    assert [(w.text, w.start, w.end) for w in out] == [("hello", 0.1, 0.6), ("you", 0.6, 0.7)]
    assert timer.close(5.0) == []


def _events():
    return [Word("Hello", 0.5, 0.9), Word("there.", 0.9, 1.6), Word("How", 1.6, 2.0),
            Word("are", 2.0, 2.2), Word("you?", 2.2, 9.0), EndOfTurn(3.1, 0.83),
            Word("Fine", 10.0, 10.4), TextPiece(" ignored", 10.0)]


def _write(fmt, events=None, meta=None):
    import io

    f = io.StringIO()
    w = make_writer(fmt, f, {"model": "m", "file": "a.wav"} if meta is None else meta)
    for e in events if events is not None else _events():
        w.event(e)
    w.close(10.5)
    return f.getvalue()


def test_formats():
    assert _write("txt") == "Hello there. How are you?\n\nFine\n"
    srt = _write("srt")
    assert srt == ("1\n00:00:00,500 --> 00:00:01,600\nHello there.\n\n"
                   "2\n00:00:01,600 --> 00:00:03,200\nHow are you?\n\n"  # 1 s after "you?" starts
                   "3\n00:00:10,000 --> 00:00:10,400\nFine\n\n")
    vtt = _write("vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.600\nHello there.\n\n")
    data = json.loads(_write("json"))
    assert data["model"] == "m" and data["file"] == "a.wav" and data["duration"] == 10.5
    assert data["words"][4] == {"word": "you?", "start": 2.2, "end": 9.0, "end_of_turn": True}
    assert "end_of_turn" not in data["words"][3] and len(data["words"]) == 6
    assert data["end_of_turns"] == [{"time": 3.1, "probability": 0.83}]
    assert data["text"] == "Hello there. How are you?\nFine"
    empty = json.loads(_write("json", events=[], meta={}))
    assert empty == {"words": [], "end_of_turns": [], "text": "", "duration": 10.5}


def test_long_cues_split_in_two_lines():
    words = [Word(w, i * 0.3, i * 0.3 + 0.3) for i, w in enumerate(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen".split())]
    cues = _write("srt", words).strip().split("\n\n")
    for cue in cues:
        lines = cue.split("\n")[2:]
        assert 1 <= len(lines) <= 2 and all(len(x) <= 42 for x in lines)
    assert " ".join(" ".join(c.split("\n")[2:]) for c in cues).split() == [w.text for w in words]


def test_captions_paragraphs():
    from moshi_mlx.stt.formats import Captions

    c = Captions(ms=False)
    parts = [c.text(e) for e in (TextPiece(" hello", 1.0), TextPiece(" there", 1.2), EndOfTurn(2.0, 0.9),
                                 EndOfTurn(2.1, 0.9), TextPiece(" again", 3.0), TextPiece(" later", 7.5),
                                 Word("ignored", 0, 1))]
    assert "".join(parts) + c.close() == ("[00:00:01] hello there\n\n[00:00:03] again\n\n"
                                          "[00:00:07] later\n")
