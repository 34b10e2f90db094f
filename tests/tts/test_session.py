"""ReadAloud, the Qt-free engine of the app's Read aloud mode, on the demo-tts model: text pushed
before and while it runs, words reported as they are heard, the WAV saved, stop, and a model of the
wrong kind reported as an error event."""

import threading

import soundfile as sf

from moshi_mlx.engine.events import ErrorEvent, StateEvent
from moshi_mlx.tts.session import ReadAloud, ReadAloudOptions, SpeechStatsEvent, WordEvent
from moshi_mlx.tts.synth import TtsSettings

TEXT = "Hello there, this is the demo reading aloud."


class Events(list):
    def __init__(self):
        super().__init__()
        self.stopped = threading.Event()

    def __call__(self, event):
        self.append(event)
        if isinstance(event, StateEvent) and event.state == "stopped":
            self.stopped.set()

    def of(self, cls):
        return [e for e in self if isinstance(e, cls)]


def test_reads_to_a_wav_with_words_and_stats(tts_home, tmp_path, monkeypatch):
    monkeypatch.setenv("MOSHI_MLX_HOME", str(tts_home))
    events = Events()
    session = ReadAloud(events)
    session.push_text("Hello there, ")  # before start: queued
    session.start(ReadAloudOptions(model="demo-tts", output_device=None, wav_path=str(tmp_path / "r.wav"),
                                   settings=TtsSettings(seed=2)))
    session.push_text("this is the demo reading aloud.")
    session.end_of_text()
    assert events.stopped.wait(120)
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    assert [e.state for e in events.of(StateEvent)] == ["loading", "ready", "running", "stopping", "stopped"]
    words = events.of(WordEvent)
    assert [w.word for w in words] == TEXT.split()
    assert all(TEXT[w.span[0]:w.span[1]] == w.word for w in words)
    assert [w.time_s for w in words] == sorted(w.time_s for w in words)
    stats = events.of(SpeechStatsEvent)[-1]
    assert stats.frames > 0 and stats.real_time_factor > 0 and stats.first_audio_s > 0
    assert session.wav_path == tmp_path / "r.wav"
    assert sf.info(session.wav_path).frames == stats.frames * 1920
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.wav"]


def test_plays_stops_and_keeps_what_was_said(tts_home, tmp_path, monkeypatch, virtual_audio_device):
    monkeypatch.setenv("MOSHI_MLX_HOME", str(tts_home))
    events = Events()
    session = ReadAloud(events)
    session.start(ReadAloudOptions(model="demo-tts", wav_path=str(tmp_path / "p.wav")))
    session.push_text(TEXT * 30)  # longer than we wait
    while not events.of(WordEvent):
        assert not events.stopped.wait(0.1), events.of(ErrorEvent)
    session.pause()
    session.resume()
    session.stop()
    assert events.stopped.is_set() and not session.running
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    assert 0 < sf.info(tmp_path / "p.wav").frames < 30 * 60 * 1920


def test_wrong_model_kind_is_an_error_event(tts_home, monkeypatch):
    monkeypatch.setenv("MOSHI_MLX_HOME", str(tts_home))
    events = Events()
    session = ReadAloud(events)
    session.start(ReadAloudOptions(model="demo", output_device=None))
    assert events.stopped.wait(120)
    (error,) = events.of(ErrorEvent)
    assert error.kind == "model_kind" and "Read aloud" in error.message  # one error map for every engine


def test_text_option_recording_for_history_and_pause_without_a_device(tts_home, tmp_path, monkeypatch):
    from moshi_mlx.engine import session_meta

    monkeypatch.setenv("MOSHI_MLX_HOME", str(tts_home))
    events = Events()
    session = ReadAloud(events)
    session.push_text("never read: the text option replaces what was pushed before start")
    session.start(ReadAloudOptions(model="demo-tts", output_device=None, text=TEXT, record_dir=str(tmp_path / "rec"),
                                   settings=TtsSettings(seed=1)))
    session.pause()  # without a device the synthesis itself waits
    assert not events.stopped.wait(1.5) and not events.of(WordEvent)
    session.resume()
    assert events.stopped.wait(120)
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    assert [w.word for w in events.of(WordEvent)] == TEXT.split()
    paths = session.recording_paths
    assert paths["wav"].name.startswith("reading-") and sf.info(paths["wav"]).channels == 1
    assert sf.info(paths["wav"]).frames == events.of(SpeechStatsEvent)[-1].frames * 1920
    lines = paths["transcript"].read_text().splitlines()
    assert lines[0].startswith("# Read aloud, demo-tts") and lines[1].startswith("[00:00:")
    assert " ".join(line.split("] ", 1)[1] for line in lines[1:]) == TEXT
    meta = session_meta.read(session_meta.sidecar_path(paths["wav"].with_suffix("")))
    assert (meta["mode"], meta["kind"], meta["model"], meta["first_words"]) == ("read", "tts", "demo-tts", TEXT)


def test_a_stopped_session_may_leave_no_wav(tts_home, tmp_path, monkeypatch):
    monkeypatch.setenv("MOSHI_MLX_HOME", str(tts_home))
    events = Events()
    session = ReadAloud(events)
    session.start(ReadAloudOptions(model="demo-tts", output_device=None, text=TEXT * 20,
                                   wav_path=str(tmp_path / "s.wav"), keep_stopped_wav=False))
    while not events.of(WordEvent):
        assert not events.stopped.wait(0.05), events.of(ErrorEvent)
    session.stop()
    assert events.stopped.is_set() and session.wav_path is None and list(tmp_path.iterdir()) == []


def test_two_voices_read_the_text_as_a_dialogue(tts_home, monkeypatch):
    monkeypatch.setenv("MOSHI_MLX_HOME", str(tts_home))
    dialogue = "Hello there, how are you?\n\nVery well, thank you.\nGood.\n"
    events = Events()
    session = ReadAloud(events)
    session.start(ReadAloudOptions(model="demo-tts", output_device=None, text=dialogue,
                                   voices=["demo/voice-1.wav", "demo/voice-2.wav"],
                                   settings=TtsSettings(seed=2)))
    assert events.stopped.wait(120)
    assert not events.of(ErrorEvent), events.of(ErrorEvent)
    words = events.of(WordEvent)
    assert [w.word for w in words] == dialogue.split()
    assert all(dialogue[w.span[0]:w.span[1]] == w.word for w in words)  # spans index the whole text
    assert [w.speaker for w in words] == [0] * 5 + [1] * 4 + [0]  # each non-empty line a turn
