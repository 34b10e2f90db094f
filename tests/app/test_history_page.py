"""The History page over real sessions recorded by the engine with the demo model (through the
virtual PulseAudio device): listing, search, opening, playback with its position slider and
click-to-jump, rename, export, move to the Trash, and the empty state."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from moshi_app import history
from moshi_mlx.engine import session_meta

from .conftest import SCREENSHOTS, FakeBackend, wait_for

pytestmark = [pytest.mark.audio, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def demo_recordings(tmp_path_factory, virtual_audio_device, demo_models):
    """Two sessions recorded by the real ConversationEngine with the demo model, each long enough
    to hold a few transcript lines."""
    from moshi_mlx.engine.conversation import ConversationEngine, EngineOptions
    from moshi_mlx.engine.events import StateEvent, StatsEvent, TextEvent

    home = demo_models.home(tmp_path_factory.mktemp("demo-home"), "demo")
    folder = tmp_path_factory.mktemp("demo-recordings")
    events = []
    engine = ConversationEngine(events.append)
    for seed, seconds in ((7, 10.0), (8, 3.0)):
        events.clear()
        engine.start(EngineOptions(model="demo", cache_dir=str(home), record_dir=str(folder), aec=False,
                                   seed=seed))
        deadline = time.monotonic() + 120
        while not any(isinstance(e, StateEvent) and e.state == "running" for e in list(events)):
            assert time.monotonic() < deadline, events[-5:]
            time.sleep(0.05)
        def recorded_s() -> float:  # frames processed (and recorded), not wall time: a busy
            # machine drops input frames when it falls behind
            frames = [e.frames for e in list(events) if isinstance(e, StatsEvent)]
            return max(frames, default=0) / 12.5

        while recorded_s() < seconds or sum(isinstance(e, TextEvent) for e in list(events)) < 4:
            assert time.monotonic() < deadline, "the demo model said too little"
            time.sleep(0.05)
        engine.stop()  # the next one starts seconds later: its files have another name
    return folder


@pytest.fixture
def recordings(demo_recordings, tmp_path) -> Path:
    """A private copy: the tests rename and delete."""
    return Path(shutil.copytree(demo_recordings, tmp_path / "rec"))


def open_history(make_app, folder):
    shell = make_app(FakeBackend(), model="demo", record_dir=str(folder))
    shell.show_page("history")
    return shell, shell.history


def test_sessions_are_listed_searchable_and_open_with_their_transcript(qtbot, make_app, recordings):
    shell, h = open_history(make_app, recordings)
    p = h.page
    assert len(h.shown) == 2 and p.sessions.topLevelItemCount() == 2
    assert p.list_stack.currentWidget() is p.sessions
    longer, shorter = sorted(h.shown, key=lambda s: -s.duration_s)
    for s in h.shown:
        data = session_meta.read(s.meta)
        assert (data["mode"], data["kind"], data["model"]) == ("talk", "moshi", "demo") and s.ended
    row = p.sessions.topLevelItem(h.shown.index(longer))
    date, mode, model, duration, words = (row.text(i) for i in range(5))
    assert date == longer.started.strftime("%Y-%m-%d %H:%M") and mode == "Talk"
    assert model == "Demo (random weights: noise only)"
    assert duration == f"{round(longer.duration_s)} s" and 7 <= longer.duration_s < 30
    assert words == longer.first_words and len(words.split()) >= 2
    # opening shows every timestamped line of the transcript
    h.select(longer)
    lines = history.parse_transcript(longer.transcript)
    assert h.current.base == longer.base and p.transcript.count() == len(lines) >= 2
    for i, line in enumerate(lines):
        assert p.transcript.item(i).text() == f"{history.clock(line.time_s):>6}   {line.text}"
    assert p.title_label.text() == longer.title and "Talk" in p.info_label.text()
    assert p.time_label.text() == f"0:00 / {history.clock(round(longer.duration_s))}"
    # search reads the transcripts: a word said late in the longer session finds it; every session
    # shown has it in its transcript or in what else search reads (title, model, mode, date: the
    # demo's random words may be one letter, which "Demo (random weights...)" holds)
    word = max(lines[-1].text.split(), key=len)
    p.search.setText(word)
    assert longer.base in [s.base for s in h.shown]
    for s in h.shown:
        hay = " ".join((s.title, s.model_name, s.model, "Talk", s.started.strftime("%Y-%m-%d"),
                        history.TranscriptCache().text(s.transcript)))
        assert word.lower() in hay.lower()
    p.search.setText("zzqx nothing like this")
    assert not h.shown and p.list_stack.currentWidget() is p.empty_label
    assert "No recording matches" in p.empty_label.text()
    p.search.clear()
    assert len(h.shown) == 2
    shell.window.resize(800, 600)
    h.select(longer)
    qtbot.wait(50)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert shell.window.grab().save(str(SCREENSHOTS / "history.png"))


def test_playback_position_slider_and_click_to_jump(qtbot, make_app, recordings):
    shell, h = open_history(make_app, recordings)
    p = h.page
    longer = max(h.shown, key=lambda s: s.duration_s)
    h.select(longer)
    assert h.player is None  # browsing does not hold the audio device
    qtbot.mouseClick(p.play_button, Qt.MouseButton.LeftButton)
    assert h.player is not None and p.play_button.text() == "Pause"
    wait_for(qtbot, lambda: h.position() >= 0.6, 15_000)
    wait_for(qtbot, lambda: abs(p.position_slider.value() / 1000 - h.position()) < 0.3)
    assert p.position_slider.maximum() == int(longer.duration_s * 1000)
    qtbot.mouseClick(p.play_button, Qt.MouseButton.LeftButton)  # pause
    held = h.position()
    qtbot.wait(300)
    assert h.position() == held and p.play_button.text() == "Play"
    # a click on a transcript line plays from that line
    lines = history.parse_transcript(longer.transcript)
    index = max(i for i, l in enumerate(lines) if l.time_s < longer.duration_s - 1.0)
    assert index >= 1  # a line later in the recording
    target = lines[index].time_s
    item = p.transcript.item(index)
    p.transcript.scrollToItem(item)
    qtbot.mouseClick(p.transcript.viewport(), Qt.MouseButton.LeftButton,
                     pos=p.transcript.visualItemRect(item).center())
    assert target <= h.position() <= target + 0.5 and h.player.playing
    wait_for(qtbot, lambda: h.position() > target + 0.2, 10_000)
    assert p.transcript.currentRow() == index  # the line being played is highlighted
    # the slider seeks where it is released
    p.position_slider.setSliderDown(True)
    p.position_slider.setValue(500)
    p.position_slider.setSliderDown(False)
    assert 0.5 <= h.position() <= 1.0
    wait_for(qtbot, lambda: p.time_label.text().startswith("0:00 /") or p.time_label.text().startswith("0:01 /"))
    # another session: the player is closed, the new one starts at 0
    h.select(min(h.shown, key=lambda s: s.duration_s))
    assert h.player is None and h.position() == 0.0


def test_rename_export_and_move_to_the_trash(qtbot, make_app, recordings, tmp_path):
    shell, h = open_history(make_app, recordings)
    p = h.page
    first = h.shown[0]
    h.select(first)
    assert h.rename("Quixotic call")
    assert p.sessions.topLevelItem(0).text(4) == "Quixotic call" and p.title_label.text() == "Quixotic call"
    assert session_meta.read(first.meta)["name"] == "Quixotic call"
    p.search.setText("quixotic")
    assert [s.base for s in h.shown] == [first.base]
    p.search.clear()
    job = h.export(str(tmp_path / "out"))
    with qtbot.waitSignal(job.finished, timeout=20_000):
        pass
    assert job.outcome == "succeeded", shell.messages.history
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == [
        "Quixotic call.srt", "Quixotic call.txt", "Quixotic call.wav"]
    assert (tmp_path / "out" / "Quixotic call.wav").read_bytes() == first.wav.read_bytes()
    assert "-->" in (tmp_path / "out" / "Quixotic call.srt").read_text()
    h.select(h.shown[0])
    files = h.current.files
    qtbot.mouseClick(p.delete_button, Qt.MouseButton.LeftButton)
    assert not shell.messages.history, shell.messages.history
    trash = tmp_path / "xdg-data" / "Trash" / "files"
    assert sorted(f.name for f in trash.iterdir()) == sorted(f.name for f in files)
    assert not any(f.exists() for f in files)
    assert len(h.shown) == 1 and h.current is None and not p.play_button.isEnabled()


def test_empty_history_says_how_to_fill_it(qtbot, make_app, tmp_path):
    shell, h = open_history(make_app, tmp_path / "nothing-here")
    assert h.page.list_stack.currentWidget() is h.page.empty_label
    assert "No recordings yet" in h.page.empty_label.text() and "Record" in h.page.empty_label.text()
    assert not h.page.delete_button.isEnabled() and h.page.title_label.text() == "No recording opened"


def test_reveal_shows_the_file_in_finder_or_its_folder(qtbot, make_app, tmp_path, monkeypatch):
    """macOS: `open -R <file>` (selects it in the Finder); elsewhere the folder is opened."""
    import types

    import moshi_app.controllers.history_controller as hc

    from .test_history_index import record

    rec = record(tmp_path / "rec", [" Hi"], 0.5)
    shell, h = open_history(make_app, tmp_path / "rec")
    h.select(h.shown[0])
    opened, launched = [], []
    monkeypatch.setattr(hc.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    qtbot.mouseClick(h.page.reveal_button, Qt.MouseButton.LeftButton)
    assert opened == [str(tmp_path / "rec")]
    monkeypatch.setattr(hc, "sys", types.SimpleNamespace(platform="darwin"))
    monkeypatch.setattr(hc.subprocess, "Popen", lambda args: launched.append(args))
    qtbot.mouseClick(h.page.reveal_button, Qt.MouseButton.LeftButton)
    assert launched == [["open", "-R", str(rec.paths["wav"])]]


def test_a_moshivis_session_shows_its_pictures_in_time(qtbot, make_app, tmp_path):
    """Each picture shown during a MoshiVis conversation is a line of the opened session, at the
    time it was shown (between the words), its copy named in the tooltip."""
    import numpy as np
    from PIL import Image

    from moshi_mlx.engine.recorder import Recorder

    folder = tmp_path / "rec"
    Image.new("RGB", (20, 10), "red").save(tmp_path / "cat.png")
    rec = Recorder(folder, meta=dict(mode="talk", kind="moshivis", model="demo-vis", model_name="demo-vis"))
    rec.add_image(str(tmp_path / "cat.png"), 0.0)
    for i in range(40):
        rec.write_frame(np.zeros(1920, np.float32), np.zeros(1920, np.float32))
    rec.write_text(" Hello", 0.5)
    rec.write_text(" again", 2.5)
    rec.add_image(None, 1.5)
    rec.close()
    _, c = open_history(make_app, folder)
    c.open(history.scan(folder)[0])
    rows = [c.page.transcript.item(i).text().split(None, 1)[1] for i in range(c.page.transcript.count())]
    assert rows == ["[picture shown: " + rec.paths["image-1"].name + "]", "Hello",
                    "[picture shown: none]", "again"]
    assert c.page.transcript.item(0).toolTip() == str(rec.paths["image-1"])
