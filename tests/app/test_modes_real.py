"""Transcribe and Translate with the real engine and the demo models: a file transcribed (and one
cancelled mid-way, leaving nothing), and live sessions of both modes recorded through the virtual
PulseAudio device, then listed in History. Screenshots of both modes for the README."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf

from moshi_mlx.engine import session_meta

from tests.stt.conftest import speech_file  # noqa: F401 - the fixture: a sentence spoken by espeak-ng

from .conftest import SCREENSHOTS, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory, demo_models):
    """The demo STT and Hibiki models, built once (the app's cache folder setting points here)."""
    return demo_models.home(tmp_path_factory.mktemp("demo-models"), "demo-stt", "demo-hibiki")


def screenshot(qtbot, shell, name):
    shell.window.resize(800, 600)
    qtbot.wait(50)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert shell.window.grab().save(str(SCREENSHOTS / name))


def test_a_file_transcribed_by_the_demo_model_and_one_cancelled(qtbot, make_app, demo_home, speech_file, tmp_path):
    shell = make_app(None, cache_dir=str(demo_home))
    m = shell.mode("transcribe")
    assert m.set_model("demo-stt")
    shell.show_page("transcribe")
    p = m.page
    job = m.transcribe_file(str(speech_file))
    progress = []
    job.progress.connect(lambda done, total, speed: progress.append((done, total, speed)))
    wait_for(qtbot, lambda: job.outcome is not None, 120_000)
    assert job.outcome == "succeeded", m.messages.history
    duration = sf.info(str(speech_file)).duration
    assert progress and progress[-1][1] == pytest.approx(duration, abs=0.1) and progress[-1][2] > 0
    assert m.document.paragraphs and m.document.has_words and p.export_button.isEnabled()
    assert p.captions.toPlainText().startswith("── hello.wav ──\n  0:00  ")
    assert "Transcribed hello.wav" in p.state_label.text() and "x real time" in p.state_label.text()
    srt = m.export(str(tmp_path / "hello.srt"))
    assert open(srt).read().startswith("1\n00:00:")
    screenshot(qtbot, shell, "transcribe_file.png")
    # a longer file, cancelled once it is under way: nothing shown, nothing written beside it
    long_file = tmp_path / "long" / "long.wav"
    long_file.parent.mkdir()
    rng = np.random.default_rng(0)
    sf.write(long_file, (0.1 * rng.standard_normal(24000 * 60)).astype(np.float32), 24000)
    job = m.transcribe_file(str(long_file))
    done = []
    job.progress.connect(lambda d, total, speed: done.append(d))
    wait_for(qtbot, lambda: bool(done), 60_000)
    m.cancel_file()
    wait_for(qtbot, lambda: job.outcome is not None, 60_000)
    assert job.outcome == "cancelled" and 0 < done[-1] < 60
    assert p.captions.document().isEmpty() and not p.export_button.isEnabled() and not m.document.paragraphs
    assert [f.name for f in long_file.parent.iterdir()] == ["long.wav"]
    assert not m.messages.history, m.messages.history
    assert p.start_button.isEnabled() and not p.file_row.isVisible()


def run_session(qtbot, mode, frames: int, record: bool = True):
    """Start `mode`, wait until the engine has processed `frames` frames (not wall time: a busy
    machine drops input frames), stop it; returns its recordings."""
    from moshi_mlx.engine.events import StatsEvent

    processed = []
    mode.bridge.event.connect(lambda e: processed.append(e.frames) if isinstance(e, StatsEvent) else None)
    mode.page.record_check.setChecked(record)
    assert mode.start()
    wait_for(qtbot, lambda: mode.state == "running", 180_000)
    wait_for(qtbot, lambda: bool(processed) and processed[-1] >= frames, 120_000)
    return processed


@pytest.mark.audio
def test_live_sessions_of_both_modes_land_in_history(qtbot, make_app, demo_home, speech_file, tmp_path,
                                                    virtual_audio_device):
    recordings = tmp_path / "rec"
    shell = make_app(None, cache_dir=str(demo_home), record_dir=str(recordings))
    transcribe, translate = shell.mode("transcribe"), shell.mode("translate")
    assert transcribe.set_model("demo-stt") and translate.set_model("demo-hibiki")
    # Transcribe: the microphone hears the spoken sentence
    shell.show_page("transcribe")
    run_session(qtbot, transcribe, 12)
    player = subprocess.Popen(["paplay", str(speech_file)])
    player.wait(30)
    wait_for(qtbot, lambda: bool(transcribe.document.paragraphs), 60_000)
    assert transcribe.page.captions.toPlainText().startswith("  0:0")
    screenshot(qtbot, shell, "transcribe.png")
    transcribe.stop()
    wait_for(qtbot, lambda: transcribe.state == "idle", 120_000)
    assert not transcribe.messages.history, transcribe.messages.history
    assert transcribe.last_recordings and transcribe.page.export_button.isEnabled() == transcribe.document.has_words
    # Translate: the same device; its text and both voices recorded
    shell.show_page("translate")
    translate.page.aec_check.setChecked(False)
    translate.page.guidance.setValue(3.0)
    run_session(qtbot, translate, 30)
    wait_for(qtbot, lambda: "Translation 1" in translate.page.text_view.toPlainText(), 60_000)
    screenshot(qtbot, shell, "translate.png")
    translate.stop()
    wait_for(qtbot, lambda: translate.state == "idle", 60_000)
    assert not translate.messages.history, translate.messages.history
    # History lists both, with the mode, kind and model the engine wrote
    shell.show_page("history")
    h = shell.history
    by_mode = {s.mode: s for s in h.shown}
    assert set(by_mode) == {"transcribe", "translate"}
    stt, hibiki = by_mode["transcribe"], by_mode["translate"]
    assert (stt.kind, stt.model, stt.ended) == ("stt", "demo-stt", True)
    assert (hibiki.kind, hibiki.model, hibiki.ended) == ("hibiki", "demo-hibiki", True)
    assert stt.wav.name.startswith("transcript-") and hibiki.wav.name.startswith("translate-")
    assert sf.info(str(stt.wav)).channels == 1 and sf.info(str(hibiki.wav)).channels == 2
    assert hibiki.duration_s >= 30 / 12.5 - 0.5 and hibiki.first_words
    assert session_meta.read(hibiki.meta)["model_name"].startswith("demo-hibiki (random weights")
    labels = {h.page.sessions.topLevelItem(i).text(1) for i in range(h.page.sessions.topLevelItemCount())}
    assert labels == {"Transcribe", "Translate"}
    h.select(hibiki)
    assert h.page.transcript.count() >= 1 and "Translate" in h.page.info_label.text()
