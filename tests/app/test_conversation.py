"""A real conversation: the app, the real engine, the demo model, the virtual PulseAudio device."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from .conftest import SCREENSHOTS, talk, wait_for

pytestmark = [pytest.mark.audio, pytest.mark.slow, pytest.mark.timeout(300)]


def test_start_stop_with_the_demo_model_through_virtual_audio(qtbot, make_app, virtual_audio_device,
                                                              tmp_path):
    c = talk(make_app(None, model="demo", record_dir=str(tmp_path / "recs"), auto_record=True, aec=False))
    w = c.page
    qtbot.mouseClick(w.refresh_button, Qt.MouseButton.LeftButton)
    assert w.input_combo.findData("pulse") > 0 or w.input_combo.count() > 1, \
        [w.input_combo.itemText(i) for i in range(w.input_combo.count())]
    qtbot.mouseClick(w.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: w.start_button.text() == "Stop conversation" and w.start_button.isEnabled(),
             timeout_ms=180_000)
    assert not c.messages.history, c.messages.history
    assert "Conversation on" in w.state_label.text()
    # Meters move, status numbers arrive (about once a second), Moshi's random words appear.
    wait_for(qtbot, lambda: w.rtf_label.text() != "RTF –", timeout_ms=60_000)
    wait_for(qtbot, lambda: w.output_meter.fraction() > 0 and w.input_meter.fraction() > 0, 30_000)
    wait_for(qtbot, lambda: "Conversation 1" in w.transcript_text(), timeout_ms=90_000)
    assert float(w.rtf_label.text().split()[1]) > 0
    assert w.latency_label.text().endswith(" ms")
    assert c.running  # the conversation runs on the engine's MLX worker thread, not the UI thread
    assert any(t.name == "moshi-mlx-worker" and t.is_alive() for t in threading.enumerate())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    c.shell.window.resize(800, 600)
    qtbot.wait(50)
    assert c.shell.window.grab().save(str(SCREENSHOTS / "conversation.png"))
    qtbot.mouseClick(w.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: not c.running and w.start_button.text() == "Start conversation", 30_000)
    assert not c.running
    assert c.last_recordings and all((tmp_path / "recs") in Path(p).parents for p in c.last_recordings)
    # Export: WAV files and transcript land in the chosen folder.
    job = c.export(str(tmp_path / "export"))
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    names = [p.name for p in (tmp_path / "export").iterdir()]
    assert any(n.endswith(".wav") for n in names) and any(n.endswith("-transcript.txt") for n in names)
    # History lists the recording at once, with what the engine wrote about it
    history = c.shell.history
    assert [str(s.wav) for s in history.sessions] == [p for p in c.last_recordings if p.endswith(".wav")]
    session = history.sessions[0]
    assert (session.mode, session.kind, session.model, session.ended) == ("talk", "moshi", "demo", True)
    assert session.duration_s > 0 and session.first_words

    # A second conversation (model kept loaded) with echo cancellation on, closed with the window.
    w.aec_check.setChecked(True)
    qtbot.mouseClick(w.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: w.start_button.text() == "Stop conversation" and w.start_button.isEnabled(),
             timeout_ms=120_000)
    wait_for(qtbot, lambda: "Conversation 2" in w.transcript_text(), timeout_ms=90_000)
    assert "echo cancellation on" in c.last_running_detail
    assert not c.messages.history, c.messages.history
    c.shell.window.close()
    assert not c.running
    assert len(list((tmp_path / "recs").iterdir())) >= 2
