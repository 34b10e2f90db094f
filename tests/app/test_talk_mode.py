"""The Talk mode's wiring with a scripted engine: conversation flow, devices, settings, errors."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from moshi_app.messages import MIC_SETTINGS_PATH
from moshi_mlx.errors import AudioDeviceError

from .conftest import FakeBackend, device, talk, wait_for


def _start(qtbot, c):
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: c.page.start_button.text() == "Stop conversation"
             and c.page.start_button.isEnabled())


def _stop(qtbot, c):
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: not c.running and c.page.start_button.text() == "Start conversation")


def test_conversation_updates_transcript_meters_and_status(qtbot, make_app):
    backend = FakeBackend()
    c = talk(make_app(backend, model="demo"))
    w = c.page
    assert not w.model_picker.guide.isVisible()
    _start(qtbot, c)
    wait_for(qtbot, lambda: "thanks." in w.transcript_text())
    wait_for(qtbot, lambda: w.rtf_label.text() == "RTF 0.50")
    assert w.latency_label.text() == "latency 180 ms"
    assert w.dropped_label.text() == "dropped 2" and w.underruns_label.text() == "underruns 1"
    assert -25 <= w.input_meter.level_db <= -20 and w.output_meter.fraction() > 0
    text = w.transcript_text()
    assert "Conversation 1" in text and "0:00  Hello there, how are you?" in text
    assert "Fine thanks." in text  # a sentence end opened a new line
    assert not w.models_button.isEnabled() and not w.input_combo.isEnabled()
    _stop(qtbot, c)
    # The second conversation is separated from the first.
    _start(qtbot, c)
    wait_for(qtbot, lambda: "Conversation 2" in w.transcript_text())
    _stop(qtbot, c)
    # The UI thread never called the engine.
    main = threading.main_thread().name
    assert backend.calls and all(thread != main for _, thread in backend.calls)
    assert [name for name, _ in backend.calls].count("start") == 2


def test_options_follow_settings_and_devices_apply_at_next_conversation(qtbot, make_app):
    backend = FakeBackend()
    c = talk(make_app(backend, model="demo", text_temperature=0.5, audio_top_k=100, seed=7, aec=False))
    w = c.page
    assert w.input_combo.itemText(0).startswith("System default (MacBook Pro Microphone)")
    assert w.input_combo.count() == 3 and w.output_combo.count() == 3
    _start(qtbot, c)
    opts = backend.options[-1]
    assert (opts.model, opts.text_temperature, opts.audio_top_k, opts.seed, opts.aec) == ("demo", 0.5, 100, 7, False)
    assert opts.input_device is None and opts.output_device is None  # system default
    _stop(qtbot, c)
    # A device plugged in while the app runs appears after Refresh; the choice applies next time.
    backend.devices.append(device(3, "Studio Mic", 2, 0))
    qtbot.mouseClick(w.refresh_button, Qt.MouseButton.LeftButton)
    assert backend.refreshes == 1
    assert w.input_combo.findData("Studio Mic") > 0
    w.input_combo.setCurrentIndex(w.input_combo.findData("Studio Mic"))
    w.input_combo.activated.emit(w.input_combo.currentIndex())
    w.output_combo.setCurrentIndex(w.output_combo.findData("USB Headset"))
    w.output_combo.activated.emit(w.output_combo.currentIndex())
    _start(qtbot, c)
    assert backend.options[-1].input_device == "Studio Mic"
    assert backend.options[-1].output_device == "USB Headset"
    _stop(qtbot, c)
    # Unplugged: the remembered device stays listed as not connected.
    backend.devices = [d for d in backend.devices if d.name != "Studio Mic"]
    qtbot.mouseClick(w.refresh_button, Qt.MouseButton.LeftButton)
    assert "not connected" in w.input_combo.currentText()


def test_settings_survive_a_restart(qtbot, make_app, tmp_path):
    c = talk(make_app(FakeBackend(), model="demo"))
    dialog = c.shell.open_settings()
    dialog.text_temperature.setValue(0.55)
    dialog.text_top_k.setValue(40)
    dialog.audio_temperature.setValue(0.9)
    dialog.audio_top_k.setValue(123)
    dialog.fixed_seed.setChecked(True)
    dialog.seed.setValue(1234)
    dialog.record_dir.setText(str(tmp_path / "recs"))
    dialog.auto_record.setChecked(True)
    dialog.accept()
    c.page.aec_check.setChecked(False)
    c.page.output_combo.setCurrentIndex(c.page.output_combo.findData("USB Headset"))
    c.page.output_combo.activated.emit(c.page.output_combo.currentIndex())
    c.shell.window.close()

    again = talk(make_app(FakeBackend()))
    s = again.shell.settings
    assert (again.prefs.model, s.text_temperature, s.text_top_k, s.audio_temperature, s.audio_top_k,
            s.seed) == ("demo", 0.55, 40, 0.9, 123, 1234)
    assert s.record_dir == str(tmp_path / "recs") and s.auto_record and not s.aec
    assert again.prefs.output_device == "USB Headset"
    assert again.page.record_check.isChecked() and not again.page.aec_check.isChecked()
    assert again.page.output_combo.currentData() == "USB Headset"
    assert not again.page.model_picker.guide.isVisible()


def test_first_launch_guides_to_a_model(qtbot, make_app):
    backend = FakeBackend()
    c = talk(make_app(backend))
    assert c.page.model_picker.guide.isVisible()
    assert "No model" in c.page.model_picker.model_label.full_text()
    qtbot.mouseClick(c.page.model_picker.guide_models_button, Qt.MouseButton.LeftButton)
    assert c.shell.models.dialog is not None and c.shell.models.dialog.isVisible()
    c.shell.models.dialog.close()
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    assert c.shell.models.dialog is not None and c.shell.models.dialog.isVisible()  # Start leads to the models
    assert not backend.options
    qtbot.mouseClick(c.page.model_picker.guide_demo_button, Qt.MouseButton.LeftButton)
    assert c.prefs.model == "demo" and not c.page.model_picker.guide.isVisible()
    assert "noise" in c.page.model_picker.model_label.full_text()


def _last_message(c):
    box = c.messages.last_box
    assert box is not None
    return box.windowTitle() + "\n" + box.text() + "\n" + box.informativeText()


@pytest.mark.parametrize("kind, expected", [
    ("no_input_device", "No microphone found"),
    ("mic_permission", MIC_SETTINGS_PATH),
    ("device_lost", "Audio device disconnected"),
    ("model_load", "The model could not be loaded"),
    ("out_of_memory", "Not enough memory"),
    ("download", "Download failed"),
    ("model_kind", "This model does not fit this mode"),
    ("internal", "Something went wrong"),
])
def test_engine_errors_are_shown_and_the_app_keeps_running(qtbot, make_app, kind, expected):
    backend = FakeBackend()
    backend.error_after = (kind, True)
    backend.error_gate = threading.Event()  # the error comes once the test has seen the start
    c = talk(make_app(backend, model="demo"))
    _start(qtbot, c)
    backend.error_gate.set()
    wait_for(qtbot, lambda: c.messages.last_box is not None)
    assert expected in _last_message(c) and f"scripted {kind} failure" in _last_message(c)
    wait_for(qtbot, lambda: not c.running and c.page.start_button.text() == "Start conversation")
    c.messages.last_box.done(0)
    backend.error_after = None  # the app still works
    _start(qtbot, c)
    _stop(qtbot, c)


def test_no_microphone_is_reported_before_starting(qtbot, make_app):
    backend = FakeBackend(devices=[device(0, "Speakers", 0, 2, default_out=True)])
    c = talk(make_app(backend, model="demo"))
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    assert "No microphone found" in _last_message(c)
    assert not c.running and not backend.options


def test_permission_denied_when_opening_the_mic(qtbot, make_app):
    backend = FakeBackend()
    backend.start_error = AudioDeviceError("input 'MacBook Pro Microphone': access denied (permission)")
    c = talk(make_app(backend, model="demo"))
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: c.messages.last_box is not None)
    msg = _last_message(c)
    assert "Microphone access denied" in msg and MIC_SETTINGS_PATH in msg
    wait_for(qtbot, lambda: not c.running and c.page.start_button.isEnabled())


def test_out_of_memory_risk_asks_before_loading(qtbot, make_app, monkeypatch):
    import moshi_app.modes.live_mode as mc

    monkeypatch.setattr(mc, "total_memory_bytes", lambda: 8 * 2**30)
    backend = FakeBackend()
    backend.installed = {"kyutai/moshiko-mlx-bf16"}
    c = talk(make_app(backend, model="kyutai/moshiko-mlx-bf16"))
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    box = c.messages.last_box
    assert "Out of memory risk" in _last_message(c) and "8 GB" in _last_message(c)
    assert not backend.options and not c.running
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    cancel.click()
    assert not backend.options
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    load = next(b for b in c.messages.last_box.buttons() if b.text() == "Load Anyway")
    load.click()
    wait_for(qtbot, lambda: c.page.start_button.text() == "Stop conversation"
             and c.page.start_button.isEnabled())
    _stop(qtbot, c)
    assert backend.options[-1].model == "kyutai/moshiko-mlx-bf16"


def test_closing_during_a_conversation_stops_cleanly(qtbot, make_app):
    backend = FakeBackend()
    c = talk(make_app(backend, model="demo"))
    _start(qtbot, c)
    engine_thread = c.bridge._engine._thread
    c.shell.window.close()  # no tray here (offscreen): closing the window quits
    assert ("stop", "engine-control_0") in backend.calls
    assert not engine_thread.is_alive()
    assert c.bridge._pool._shutdown


def test_record_and_export(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    c = talk(make_app(backend, model="demo", record_dir=str(tmp_path / "recs"), auto_record=True))
    assert c.page.record_check.isChecked()
    _start(qtbot, c)
    wait_for(qtbot, lambda: "thanks." in c.page.transcript_text())
    _stop(qtbot, c)
    assert backend.options[-1].record_dir == str(tmp_path / "recs")
    assert c.last_recordings
    job = c.export(str(tmp_path / "export"))
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    files = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert any(f.endswith("-transcript.txt") for f in files)
    assert any(f.endswith("conversation-1-moshi.wav") for f in files)
    text = next((tmp_path / "export").glob("*-transcript.txt")).read_text()
    assert "--- Conversation 1" in text and "[0:00] Hello there, how are you?" in text


def test_transcript_colours_follow_a_palette_change(qtbot, make_app):
    """Dark/light switches re-read the palette: the transcript is drawn again in the new colours."""
    from PySide6.QtGui import QColor, QPalette, QTextCursor

    c = talk(make_app(FakeBackend(), model="demo"))
    _start(qtbot, c)
    wait_for(qtbot, lambda: "thanks." in c.page.transcript_text())
    _stop(qtbot, c)

    def stamp_colour():
        doc = c.page.transcript_view.document()
        cursor = QTextCursor(doc.findBlockByNumber(1))
        cursor.movePosition(QTextCursor.MoveOperation.Right)
        return cursor.charFormat().foreground().color().name()

    before = stamp_colour()
    dark = QPalette(c.page.palette())
    dark.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8899aa"))
    c.page.setPalette(dark)
    c.color_scheme_changed()
    assert before != "#8899aa" and stamp_colour() == "#8899aa"
    assert c.page.transcript_text().count("Conversation 1") == 1


def test_start_with_a_model_not_downloaded_leads_to_the_model_manager(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    backend.installed = set()
    c = talk(make_app(backend, model="kyutai/moshika-mlx-q4", cache_dir=str(tmp_path / "hf")))
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    assert not c.running and not backend.options
    assert c.shell.models.dialog.isVisible() and c.shell.models.dialog.selected_spec() == "kyutai/moshika-mlx-q4"
    assert c.shell.models.dialog.download_button.isEnabled()
    assert "not downloaded" in c.page.state_label.text()


def test_loading_progress_is_shown_in_the_status_line(qtbot, make_app):
    from moshi_mlx.engine.events import ProgressEvent, StateEvent

    c = talk(make_app(FakeBackend(), model="demo"))
    c.on_event(StateEvent("loading", "demo"))
    assert c.page.state_label.text().startswith("Loading the model")
    c.on_event(ProgressEvent("download", 2_500_000, 10_000_000, "bytes"))
    assert c.page.state_label.text() == "Downloading the model 25%"
    c.on_event(ProgressEvent("load model", 1, 3))
    assert c.page.state_label.text() == "Loading the model 33%"
    c.on_event(ProgressEvent("warm-up", 3, 3, "frames"))
    assert c.page.state_label.text() == "Warming up 100%"
