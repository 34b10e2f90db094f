"""The Read aloud mode with the real engine (moshi_mlx.tts.session.ReadAloud) and the demo-tts model,
nothing played (a null output): a text read to the end with its words highlighted in order and the
reading in History, pause/resume and stop, Save as WAV…, voices, opening a text file, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from moshi_app.modes.base import IDLE, RUNNING
from moshi_mlx.engine import session_meta

from .conftest import SCREENSHOTS, FakeBackend, open_mode, wait_for

pytestmark = pytest.mark.timeout(300)
TEXT = "Hello there, this is the demo."
STORY = ("Once upon a time, in a small house by the sea, there lived an old clockmaker. Every morning "
         "he opened his shop, wound the clocks on the wall, and listened to them tick together. "
         "One winter night, a clock that nobody had ever wound began to chime on its own.")


@pytest.fixture(scope="module")
def tts_home(tmp_path_factory, demo_models):
    """The demo-tts model, built once (the app's cache folder setting points here)."""
    return demo_models.home(tmp_path_factory.mktemp("demo-tts"), "demo-tts")


class NullOutput(FakeBackend):
    """The real Read aloud engine; its speech goes to no device."""

    def make_read_aloud_options(self, **kwargs):
        self.options.append(kwargs)
        return super().make_read_aloud_options(**dict(kwargs, output_device=None))


def reader(make_app, tts_home, tmp_path, text=TEXT):
    backend = NullOutput()
    shell = make_app(backend, cache_dir=str(tts_home), record_dir=str(tmp_path / "rec"), seed=3)
    m = open_mode(shell, "read", "demo-tts")
    m.page.text_edit.setPlainText(text)
    return shell, m, backend


def highlights_of(m) -> list[str]:
    """What the page highlights after each word event (connected after the mode: sees its work)."""
    from moshi_mlx.tts.session import WordEvent

    seen: list[str] = []
    m.bridge.event.connect(lambda e: seen.append(m.page.highlighted()) if isinstance(e, WordEvent) else None)
    return seen


def test_reads_to_the_end_highlighting_each_word_and_lands_in_history(qtbot, make_app, tts_home, tmp_path):
    shell, m, backend = reader(make_app, tts_home, tmp_path)
    p = m.page
    assert p.voice_combo.currentText() == "demo/voice-1.wav"
    assert [p.voice_combo.itemText(i) for i in range(p.voice_combo.count())] == ["demo/voice-1.wav", "demo/voice-2.wav"]
    p.voice_combo.setEditText("demo/voice-2.wav")
    p.record_check.setChecked(True)
    seen = highlights_of(m)
    assert m.start()
    wait_for(qtbot, lambda: m.state == RUNNING, 120_000)
    assert p.text_edit.isReadOnly() and not p.voice_combo.isEnabled() and p.start_button.text() == "Stop"
    wait_for(qtbot, lambda: m.state == IDLE, 120_000)
    assert not m.messages.history, m.messages.history
    assert m.words_heard == TEXT.split() and seen == TEXT.split()
    assert p.highlighted() == "" and not p.text_edit.isReadOnly()  # the end clears the highlight
    assert backend.options[-1]["voices"] == ["demo/voice-2.wav"] and backend.options[-1]["seed"] == 3
    assert p.rtf_label.text().startswith("RTF ")
    # History: the reading's WAV and its words, under Read aloud
    assert m.last_recordings and all(path.startswith(str(tmp_path / "rec")) for path in m.last_recordings)
    shell.show_page("history")
    (s,) = shell.history.shown
    assert (s.mode, s.kind, s.model, s.ended) == ("read", "tts", "demo-tts", True)
    assert s.wav.name.startswith("reading-") and sf.info(str(s.wav)).channels == 1 and s.duration_s > 0
    assert s.first_words == TEXT and session_meta.read(s.meta)["first_words"] == TEXT
    assert shell.history.page.sessions.topLevelItem(0).text(1) == "Read aloud"


def test_pause_resume_and_stop(qtbot, make_app, tts_home, tmp_path):
    shell, m, _backend = reader(make_app, tts_home, tmp_path, STORY)
    p = m.page
    assert not p.pause_button.isEnabled()
    m.start()
    wait_for(qtbot, lambda: len(m.words_heard) >= 10, 120_000)
    m.toggle_pause()
    assert m.paused and p.pause_button.text() == "Resume" and p.state_label.text() == "Paused"
    qtbot.wait(400)  # the words already on their way arrive
    heard = len(m.words_heard)
    shell.window.resize(800, 600)  # the README's screenshot: a word highlighted, paused
    qtbot.wait(600)
    assert len(m.words_heard) == heard  # paused: nothing more is read
    assert p.highlighted() == m.words_heard[-1]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert shell.window.grab().save(str(SCREENSHOTS / "read_aloud.png"))
    m.toggle_pause()
    assert not m.paused and p.pause_button.text() == "Pause"
    wait_for(qtbot, lambda: len(m.words_heard) > heard + 1, 60_000)
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE, 60_000)
    assert not m.messages.history, m.messages.history
    assert heard < len(m.words_heard) < len(STORY.split())
    assert not p.pause_button.isEnabled() and p.start_button.text() == "Read Aloud"


def test_save_as_wav_speaks_the_text_into_the_file(qtbot, make_app, tts_home, tmp_path):
    shell, m, backend = reader(make_app, tts_home, tmp_path)
    out = tmp_path / "out" / "speech.wav"
    out.parent.mkdir()
    out.write_bytes(b"old")  # the Save dialog asked about replacing it
    assert m.save_wav(str(out))
    wait_for(qtbot, lambda: m.state == IDLE, 120_000)
    assert not m.messages.history, m.messages.history
    info = sf.info(str(out))
    assert info.samplerate == 24000 and info.channels == 1 and info.frames > 0
    assert [f.name for f in out.parent.iterdir()] == ["speech.wav"]  # no temporary file left
    assert m.page.state_label.text() == "Saved speech.wav" and m.words_heard == TEXT.split()
    o = backend.options[-1]
    assert (o["wav_path"], o["keep_stopped_wav"], o.get("record_dir")) == (str(out), False, None)
    assert not (tmp_path / "rec").exists() or not list((tmp_path / "rec").iterdir())  # not a History reading
    # stopped while saving: the file is left as it was
    m.page.text_edit.setPlainText(" ".join([TEXT] * 20))
    stopped = tmp_path / "out" / "stopped.wav"
    assert m.save_wav(str(stopped))
    wait_for(qtbot, lambda: bool(m.words_heard), 120_000)
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE, 60_000)
    assert m.page.state_label.text() == "Saving stopped: nothing written"
    assert sorted(f.name for f in out.parent.iterdir()) == ["speech.wav"]


def test_refusals_empty_text_and_opening_files(qtbot, make_app, tts_home, tmp_path):
    shell, m, backend = reader(make_app, tts_home, tmp_path, "  \n ")
    assert not m.set_model("demo") and not m.set_model("demo-stt")
    assert "text to speech" in shell.messages.history[-1].text and m.prefs.model == "demo-tts"
    assert not m.start() and not m.save_wav(str(tmp_path / "x.wav"))
    assert shell.messages.history[-1].title == "Nothing to read" and not backend.options
    assert not (tmp_path / "x.wav").exists()
    good = tmp_path / "book.txt"
    good.write_text("\ufeffUn petit texte.\n", encoding="utf-8")
    assert m.open_text(str(good)) and m.page.text_edit.toPlainText() == "Un petit texte.\n"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa caf\xe9")
    assert not m.open_text(str(bad)) and not m.open_text(str(tmp_path / "missing.txt"))
    assert [msg.title for msg in shell.messages.history[-2:]] == ["The text file cannot be opened"] * 2
    assert "bad.txt is not UTF-8" in shell.messages.history[-2].text
    assert m.page.text_edit.toPlainText() == "Un petit texte.\n"


def test_a_voice_that_does_not_exist_is_named(qtbot, make_app, tts_home, tmp_path):
    shell, m, _backend = reader(make_app, tts_home, tmp_path)
    m.page.voice_combo.setEditText(str(tmp_path / "missing-voice.safetensors"))
    m.page.record_check.setChecked(True)
    assert m.start()
    wait_for(qtbot, lambda: m.state == IDLE and bool(shell.messages.history), 120_000)
    msg = shell.messages.history[-1]
    assert msg.title == "The voice cannot be used" and "missing-voice.safetensors does not exist" in msg.text
    assert not m.words_heard and not m.last_recordings
    assert not (tmp_path / "rec").exists() or not list((tmp_path / "rec").iterdir())


@pytest.mark.audio
def test_plays_through_the_speaker_to_the_end(qtbot, make_app, tts_home, tmp_path, virtual_audio_device):
    backend = FakeBackend()  # the real engine and player; "System default" is the virtual device
    shell = make_app(backend, cache_dir=str(tts_home), record_dir=str(tmp_path / "rec"))
    m = open_mode(shell, "read", "demo-tts")
    m.page.text_edit.setPlainText(TEXT)
    seen = highlights_of(m)
    assert m.start()
    wait_for(qtbot, lambda: m.state == IDLE, 120_000)
    assert not m.messages.history, m.messages.history
    assert m.words_heard == TEXT.split() and seen == TEXT.split()
    assert m.page.underruns_label.text().startswith("underruns ")


def test_online_voices_fill_the_picker(qtbot, make_app, tts_home, tmp_path, monkeypatch):
    from moshi_mlx.tts import demo
    from moshi_mlx.tts.voice_repo import VOICE_REPO
    from tests.support.fake_hub import FakeHub, point_hub_at

    suffix = f".{demo.SIG}@{demo.EPOCH}.safetensors"
    files = {f"vctk/p225_023.wav{suffix}": b"x", "vctk/p225_023.wav.1e68beda@240.safetensors": b"x",
             f"cml-tts/fr/1406.wav{suffix}": b"x", "README.md": b"x"}
    shell, m, _backend = reader(make_app, tts_home, tmp_path)
    combo = m.page.voice_combo
    with FakeHub({VOICE_REPO: files}) as server:
        point_hub_at(monkeypatch, server)
        m.list_online_voices().join(30)
        wait_for(qtbot, lambda: combo.count() == 4)
        assert [combo.itemText(i) for i in range(4)] == [
            "demo/voice-1.wav", "demo/voice-2.wav", "cml-tts/fr/1406.wav", "vctk/p225_023.wav"]
        assert m.page.state_label.text() == "4 voices" and m.page.voices_button.isEnabled()
        assert combo.currentText() == "demo/voice-1.wav"
        server.repos.clear()  # the listing fails: said, the list kept
        m.list_online_voices().join(30)
        wait_for(qtbot, lambda: m.page.state_label.text().startswith("The voices could not be listed: "))
        assert combo.count() == 4 and not shell.messages.history


def test_save_as_wav_keeps_the_reading_just_heard(qtbot, make_app, tts_home, tmp_path):
    shell, m, backend = reader(make_app, tts_home, tmp_path)
    m.page.record_check.setChecked(True)
    assert m.start()
    wait_for(qtbot, lambda: m.state == RUNNING, 120_000)
    wait_for(qtbot, lambda: m.state == IDLE, 120_000)
    assert not m.messages.history, m.messages.history
    heard_dir = m._heard_dir
    assert heard_dir and len(list(Path(heard_dir).iterdir())) == 1
    runs = len(backend.options)
    out = tmp_path / "kept.wav"
    assert m.save_wav(str(out))  # the take just heard: copied, nothing synthesized again
    assert len(backend.options) == runs and m.state == IDLE and not m.saving
    assert m.page.state_label.text() == "Saved kept.wav (the reading you heard)"
    (recorded,) = [p for p in m.last_recordings if p.endswith(".wav")]
    kept, rate = sf.read(str(out))
    same, _ = sf.read(recorded)
    assert rate == 24000 and len(kept) == len(same), (sf.info(str(out)), sf.info(recorded))
    # History's copy is the same take, written by its own recorder (16-bit rounding may differ by
    # a unit or two; another take would differ everywhere)
    assert abs(kept - same).max() < 1e-4, abs(kept - same).max()
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".kept")] == []
    # the text changed since: a new take is spoken into the file
    m.page.text_edit.setPlainText(TEXT + " Again.")
    again = tmp_path / "again.wav"
    assert m.save_wav(str(again)) and m.saving == str(again)
    wait_for(qtbot, lambda: m.state == IDLE, 120_000)
    assert len(backend.options) == runs + 1 and sf.info(str(again)).frames > 0
    # a stopped reading is not kept; quitting removes the folder of heard readings
    m.page.text_edit.setPlainText(STORY)
    m.start()
    wait_for(qtbot, lambda: len(m.words_heard) >= 3, 120_000)
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE, 60_000)
    assert m._heard[0][2] == TEXT and len(list(Path(heard_dir).iterdir())) == 1
    m.shutdown()
    assert not Path(heard_dir).exists()


def test_a_second_voice_reads_the_text_as_a_dialogue(qtbot, make_app, tts_home, tmp_path):
    from moshi_mlx.tts.session import WordEvent

    dialogue = "Hello there.\nHi, how are you?\nFine."
    shell, m, backend = reader(make_app, tts_home, tmp_path, dialogue)
    p = m.page
    assert p.voice2_combo.currentText() == "" and p.voice2_combo.accessibleName()
    assert [p.voice2_combo.itemText(i) for i in range(p.voice2_combo.count())] == \
        ["", "demo/voice-1.wav", "demo/voice-2.wav"]
    p.voice2_combo.setEditText("demo/voice-2.wav")
    speakers = []
    m.bridge.event.connect(lambda e: speakers.append(e.speaker) if isinstance(e, WordEvent) else None)
    assert m.start()
    wait_for(qtbot, lambda: m.state == RUNNING, 120_000)
    assert not p.voice2_combo.isEnabled()
    wait_for(qtbot, lambda: m.state == IDLE, 120_000)
    assert not m.messages.history, m.messages.history
    assert backend.options[-1]["voices"] == ["demo/voice-1.wav", "demo/voice-2.wav"]
    assert m.words_heard == dialogue.split() and speakers == [0, 0, 1, 1, 1, 1, 0]
    assert m.option("voice2", "") == "demo/voice-2.wav"  # remembered
    shell.window.resize(800, 600)  # both voice rows and the text still fit
    qtbot.wait(50)
    assert p.voice2_combo.isVisible() and p.text_edit.height() > 100 and p.start_button.isVisible()
