"""The History index (app/history.py, no Qt): listing with and without sidecars, search, transcript
parsing, rename, delete to a trash, export as .wav/.txt/.srt."""

from __future__ import annotations

import json
import os
from datetime import datetime

import numpy as np
import pytest
import soundfile as sf

from moshi_app import history
from moshi_mlx.engine import session_meta
from moshi_mlx.engine.recorder import Recorder
from tests.support.clock import FakeClock


CLOCK = FakeClock()


def record(folder, words, seconds=1.0, meta=None, close=True):
    """A session written by the engine's own Recorder (16 frames a second of words); each one
    starts a few seconds after the one before (the recorder names files by the second)."""
    CLOCK.advance(2.0)
    rec = Recorder(folder, meta=meta if meta is not None else dict(
        mode="talk", kind="moshi", model="demo", model_name="demo (random weights)"), clock=CLOCK)
    frames = int(seconds * 12.5)
    for i in range(frames):
        rec.write_frame(np.full(1920, 0.05, np.float32), np.full(1920, -0.05, np.float32))
        if i < len(words):
            rec.write_text(words[i], i * 0.08 + (1.5 if i >= len(words) // 2 else 0))
    if close:
        rec.close()
    return rec


def test_scan_lists_sessions_with_sidecars_newest_first(tmp_path):
    a = record(tmp_path, [" Hello", " there", " friend"], 1.0)
    b = record(tmp_path, [" Second", " talk"], 2.0)
    sessions = history.scan(tmp_path)
    assert [s.wav for s in sessions] == [b.paths["wav"], a.paths["wav"]]
    s = sessions[1]
    assert s.mode == "talk" and s.kind == "moshi" and s.model == "demo" and s.ended
    assert s.duration_s == pytest.approx(12 * 0.08, abs=1e-3)
    assert s.first_words == "Hello there friend" and s.title == "Hello there friend"
    assert s.started.tzinfo is not None and abs(s.started.timestamp() - (CLOCK() - 2.0)) < 2  # the recorder's clock
    assert set(s.files) == {a.paths["wav"], a.paths["transcript"], s.meta}


def test_unfinished_and_legacy_recordings_are_listed_from_their_files(tmp_path):
    running = record(tmp_path, [" Still", " going"], 1.0, close=False)
    legacy_wav = tmp_path / "conversation-20240105-093000.wav"
    sf.write(legacy_wav, np.zeros((24000 * 3, 2), np.float32), 24000, subtype="PCM_16")
    legacy_wav.with_suffix(".txt").write_text("# Moshi conversation 2024-01-05 09:30:00\n"
                                              "[00:00:00.320] Old times\n[00:00:02.000] again\n")
    (tmp_path / "notes.json").write_text(json.dumps({"something": "else"}))  # not ours: ignored
    (tmp_path / "song.wav").write_bytes(b"RIFF")  # not a recording of ours: ignored
    sessions = {s.base.name: s for s in history.scan(tmp_path)}
    assert set(sessions) == {running.paths["wav"].stem, "conversation-20240105-093000"}
    live = sessions[running.paths["wav"].stem]
    assert not live.ended and live.duration_s == pytest.approx(0.96, abs=1e-3)  # from the WAV header
    assert live.first_words == "Still going"  # from the transcript
    old = sessions["conversation-20240105-093000"]
    assert old.meta is None and old.mode == "talk" and old.model == "" and old.duration_s == 3.0
    assert old.started.replace(tzinfo=None) == datetime(2024, 1, 5, 9, 30)
    assert old.first_words == "Old times again"
    running.close()
    assert history.scan(tmp_path)[0].ended


def test_a_sidecar_whose_recording_is_gone_is_not_listed(tmp_path):
    rec = record(tmp_path, [" gone"], 0.5)
    rec.paths["wav"].unlink()
    rec.paths["transcript"].unlink()
    assert history.scan(tmp_path) == [] and history.scan(tmp_path / "missing") == []


def test_transcript_lines_and_search(tmp_path):
    record(tmp_path, [" The", " weather", " is", " nice", " today", " indeed"], 1.0)
    record(tmp_path, [" Music", " and", " films"], 1.0,
           meta=dict(mode="transcribe", kind="stt", model="kyutai/stt-1b-en_fr", model_name="STT"))
    sessions = history.scan(tmp_path)
    lines = history.parse_transcript(sessions[1].transcript)
    assert [l.text for l in lines] == ["The weather is", "nice today indeed"]
    assert lines[0].time_s == 0.0 and lines[1].time_s == pytest.approx(1.74)
    cache = history.TranscriptCache()
    titles = lambda found: [s.first_words for s in found]  # noqa: E731
    assert titles(history.search(sessions, "nice TODAY", cache)) == ["The weather is nice today indeed"]
    assert titles(history.search(sessions, "stt-1b", cache)) == ["Music and films"]
    assert titles(history.search(sessions, "transcribe", cache)) == ["Music and films"]
    assert history.search(sessions, "weather films", cache) == []
    assert len(history.search(sessions, "  ", cache)) == 2
    # words beyond the title are found in the transcript, which is re-read when it changes
    with open(sessions[0].transcript, "a", encoding="utf-8") as f:
        f.write("[00:00:09.000] popcorn\n")
    assert titles(history.search(sessions, "popcorn", cache)) == ["Music and films"]
    assert history.parse_transcript(tmp_path / "missing.txt") == []


def test_rename_keeps_files_and_writes_the_sidecar(tmp_path):
    record(tmp_path, [" Hi"], 0.5)
    legacy = tmp_path / "conversation-20240105-093000.wav"
    sf.write(legacy, np.zeros((2400, 2), np.float32), 24000)
    new, old = history.scan(tmp_path)
    renamed = history.rename(new, "  Call with   Anna ")
    assert renamed.title == "Call with Anna" and renamed.wav == new.wav
    assert history.scan(tmp_path)[0].title == "Call with Anna"
    legacy_named = history.rename(old, "Old one")  # a sidecar is created for it
    assert legacy_named.meta == tmp_path / "conversation-20240105-093000.json"
    again = [s for s in history.scan(tmp_path) if s.wav == legacy][0]
    assert again.title == "Old one" and again.duration_s == 0.1 and again.mode == "talk"
    # a file that is not our sidecar is never replaced
    foreign = tmp_path / "conversation-20240106-100000"
    sf.write(foreign.with_suffix(".wav"), np.zeros((2400, 2), np.float32), 24000)
    foreign.with_suffix(".json").write_text('{"mine": true}')
    other = [s for s in history.scan(tmp_path) if s.wav == foreign.with_suffix(".wav")][0]
    with pytest.raises(history.HistoryError, match="not a session sidecar"):
        history.rename(other, "x")
    assert foreign.with_suffix(".json").read_text() == '{"mine": true}'


def test_delete_moves_every_file_to_the_trash_and_stops_at_a_refusal(tmp_path):
    rec = record(tmp_path, [" bye"], 0.5)
    [s] = history.scan(tmp_path)
    trash = tmp_path / "trash"
    trash.mkdir()

    def refuse_txt(path):
        if path.suffix == ".txt":
            return False
        os.replace(path, trash / path.name)
        return True

    with pytest.raises(history.HistoryError, match=r"\.txt: could not be moved to the Trash \(1 other"):
        history.delete(s, refuse_txt)
    assert (trash / rec.paths["wav"].name).exists() and rec.paths["transcript"].exists()
    [rest] = history.scan(tmp_path)  # still listed by its sidecar and transcript
    moved = history.delete(rest, lambda p: os.replace(p, trash / p.name) is None)
    assert len(moved) == 2 and history.scan(tmp_path) == []


def test_export_writes_wav_text_and_subtitles_without_replacing(tmp_path):
    rec = record(tmp_path / "rec", [" One", " two", " three", " four"], 2.0)
    [s] = history.scan(tmp_path / "rec")
    s = history.rename(s, "Talk: about/numbers?")
    out = tmp_path / "out"
    first = history.export(s, out, "Talk")
    second = history.export(s, out, "Talk")
    assert [p.name for p in first] == ["Talk about numbers.txt", "Talk about numbers.srt",
                                       "Talk about numbers.wav"]
    assert [p.name for p in second][0] == "Talk about numbers (2).txt"
    assert (out / "Talk about numbers.wav").read_bytes() == rec.paths["wav"].read_bytes()
    text = (out / "Talk about numbers.txt").read_text()
    assert text.startswith("Talk: about/numbers? · ") and " · Talk · demo (random weights)\n" in text
    assert "[0:00] One two\n[0:01] three four\n" in text
    srt = (out / "Talk about numbers.srt").read_text()
    assert srt == ("1\n00:00:00,000 --> 00:00:01,660\nOne two\n\n"
                   "2\n00:00:01,660 --> 00:00:02,160\nthree four\n")
    assert not list(out.glob(".*.tmp"))


def test_srt_cues_end_at_the_next_line_or_after_a_while():
    lines = [history.Line(0.0, "a"), history.Line(20.0, "b"), history.Line(20.2, "c")]
    srt = history.to_srt(lines, duration_s=None)
    assert "00:00:00,000 --> 00:00:06,000\na" in srt  # long pause: shown for 6 s at most
    assert "00:00:20,000 --> 00:00:20,500\nb" in srt  # at least half a second
    assert "00:00:20,200 --> 00:00:26,200\nc" in srt
    assert history.srt_time(3725.5) == "01:02:05,500"
    assert history.seconds_of("00:01:02.500") == 62.5 and history.seconds_of("1:02") == 62
    assert session_meta.TITLE_WORDS == 12


def test_a_moshivis_session_keeps_its_images(tmp_path):
    """Each image shown (engine/recorder.py: a copy beside the recording, listed with its time in
    the sidecar) belongs to the session: listed, trashed and kept with it."""
    from PIL import Image

    pictures = tmp_path / "pictures"
    pictures.mkdir()
    Image.new("RGB", (20, 10), "red").save(pictures / "a.png")
    Image.new("RGB", (20, 10), "blue").save(pictures / "b.jpg")
    rec = record(tmp_path, [" What", " is", " this"], close=False, meta=dict(
        mode="talk", kind="moshivis", model="demo-vis", model_name="demo-vis"))
    rec.add_image(str(pictures / "a.png"), 0.0)
    rec.add_image(str(pictures / "b.jpg"), 12.5)
    rec.add_image(None, 20.0)
    rec.close()
    (pictures / "a.png").unlink()  # the original may go: the session has its copy
    s = history.scan(tmp_path)[0]
    assert [t for t, _ in s.images] == [0.0, 12.5, 20.0] and s.images[2][1] is None
    first, second = s.images[0][1], s.images[1][1]
    assert first.name.endswith("-image-1.png") and second.name.endswith("-image-2.jpg")
    assert Image.open(first).getpixel((0, 0)) == (255, 0, 0)
    assert set(s.files) == {rec.paths["wav"], rec.paths["transcript"], s.meta, first, second}
    trashed = history.delete(s, lambda p: p.unlink() is None)
    assert set(trashed) == {rec.paths["wav"], rec.paths["transcript"], s.meta, first, second}


def test_damaged_image_entries_are_left_out(tmp_path):
    rec = record(tmp_path, [" Hi"])
    sidecar = session_meta.sidecar_path(rec.base)
    data = json.loads(sidecar.read_text())
    data["images"] = [{"time_s": "soon", "file": "x.png"}, {"time_s": 1, "file": "../../etc/passwd"},
                      {"time_s": 2, "file": None}, "nonsense"]
    sidecar.write_text(json.dumps(data))
    assert history.scan(tmp_path)[0].images == ((2.0, None),)
