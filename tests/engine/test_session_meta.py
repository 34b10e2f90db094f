"""A recording's JSON sidecar (session_meta.py) and the engine refusing a model of the wrong kind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import soundfile as sf

from moshi_mlx.engine import session_meta
from moshi_mlx.engine.conversation import ConversationEngine, EngineOptions
from moshi_mlx.engine.events import ErrorEvent, StateEvent
from moshi_mlx.engine.recorder import Recorder

META = dict(mode="talk", kind="moshi", model="demo", model_name="demo (random weights)")


def test_sidecar_written_at_start_and_completed_at_close(tmp_path):
    rec = Recorder(tmp_path, meta=META)
    sidecar = session_meta.sidecar_path(rec.paths["wav"].with_suffix(""))
    start = session_meta.read(sidecar)
    assert start["mode"] == "talk" and start["kind"] == "moshi" and start["model"] == "demo"
    assert start["wav"] == rec.paths["wav"].name and start["transcript"] == rec.paths["transcript"].name
    assert "ended" not in start and "duration_s" not in start
    for i in range(25):  # 2 s
        rec.write_frame(np.full(1920, 0.1, np.float32), np.full(1920, -0.1, np.float32))
        rec.write_text(" word%d" % i if i < 16 else "", i * 0.08)
    rec.close()
    end = session_meta.read(sidecar)
    assert end["duration_s"] == 2.0 and end["ended"] >= end["started"]
    assert end["first_words"] == " ".join(f"word{i}" for i in range(session_meta.TITLE_WORDS))
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, renamed
    rec.close()  # idempotent
    assert session_meta.read(sidecar) == end


def test_transcript_lines_break_at_pauses_and_at_a_word_after_a_while(tmp_path):
    rec = Recorder(tmp_path)
    for i, piece in enumerate([" one", " two", "th", "ree"] * 20):  # a word every 80 ms, no pause
        rec.write_text(piece, i * 0.08)
    rec.write_text(" after", 6.4 + 1.5)  # a pause
    rec.close()
    lines = rec.paths["transcript"].read_text().splitlines()[1:]
    assert [l[:15] for l in lines] == ["[00:00:00.000] ", "[00:00:05.120] ", "[00:00:07.900] "]
    assert lines[1].startswith("[00:00:05.120] one two") and lines[2].endswith("] after")
    assert "three" in lines[0] and "th ree" not in " ".join(lines)  # never inside a word


def test_killed_recording_keeps_its_start_record_and_valid_files(tmp_path):
    """The process dies mid-recording: the sidecar holds what was known at start, the WAV and the
    transcript are readable on their own (the History takes the duration and words from them)."""
    code = textwrap.dedent(f"""
        import os, numpy as np
        from moshi_mlx.engine.recorder import Recorder
        rec = Recorder({str(tmp_path)!r}, meta={META!r})
        for i in range(30):
            rec.write_frame(np.zeros(1920, np.float32), np.full(1920, 0.2, np.float32))
            rec.write_text(" hello" if i == 3 else "", i * 0.08)
        os._exit(0)  # no close()
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    [sidecar] = tmp_path.glob("*.json")
    data = session_meta.read(sidecar)
    assert data["mode"] == "talk" and "ended" not in data
    wav = tmp_path / data["wav"]
    assert sf.info(str(wav)).frames == 30 * 1920
    assert session_meta.first_words(tmp_path / data["transcript"]) == "hello"


def test_reading_a_damaged_or_foreign_sidecar_gives_none(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text(json.dumps({"format": "something-else"}))
    (tmp_path / "c.json").write_bytes(b"\xff\xfe\x00")
    for name in ("a.json", "b.json", "c.json", "missing.json"):
        assert session_meta.read(tmp_path / name) is None
    assert session_meta.first_words(tmp_path / "missing.txt") == ""


def test_conversation_engine_refuses_a_model_of_another_kind(tmp_path):
    """An STT model folder given to a conversation: an ErrorEvent naming the model and what to use
    instead, before anything is loaded (the files here are not even valid weights)."""
    folder = tmp_path / "stt-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "stt"}))
    for name in ("model.safetensors", "tokenizer-e351c8d8-checkpoint125.safetensors", "tok.model"):
        (folder / name).write_bytes(b"not weights")
    events = []
    engine = ConversationEngine(events.append)
    engine.start(EngineOptions(model=str(folder), record_dir=str(tmp_path / "rec")))
    deadline = time.monotonic() + 60  # it ends by itself: stop() now could cancel it before it ran
    while not any(isinstance(e, StateEvent) and e.state == "stopped" for e in events):
        assert time.monotonic() < deadline, events
        time.sleep(0.01)
    engine.stop()
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert [e.kind for e in errors] == ["model_kind"], events
    assert str(folder) in errors[0].message and "speech to text" in errors[0].message
    assert "python -m moshi_mlx transcribe" in errors[0].message  # the app names its mode itself
    assert [e.state for e in events if isinstance(e, StateEvent)] == ["loading", "stopped"]
    assert not (tmp_path / "rec").exists()
