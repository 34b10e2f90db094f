"""The Transcribe mode's wiring with a scripted transcription engine: live captions in paragraphs,
copy and export (.txt, .srt), files with progress and cancel, drag and drop, refusals, settings."""

from __future__ import annotations

import threading

import numpy as np
import soundfile as sf
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from moshi_app.modes.base import IDLE, RUNNING

from .conftest import FakeBackend, open_mode, talk, wait_for
from .test_shell import model_folder


def transcribe(shell, model="demo-stt"):
    return open_mode(shell, "transcribe", model)


def wav(path, seconds=2.0):
    sf.write(path, np.zeros(int(24000 * seconds), np.float32), 24000)
    return str(path)


def drop(widget, paths) -> bool:
    """Drag local files onto `widget` and drop them there, as the window system delivers it."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_live_captions_in_paragraphs_then_copy_and_export(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    m = transcribe(make_app(backend))
    p = m.page
    assert not p.model_picker.guide.isVisible() and "speech to text" in p.model_picker.model_label.full_text()
    assert p.captions.document().isEmpty() and "drop an audio file" in p.captions.empty_text
    assert not p.copy_button.isEnabled() and not p.export_button.isEnabled()
    qtbot.mouseClick(p.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: m.state == RUNNING and p.start_button.text() == "Stop Transcribing")
    assert m.shell.window.toggle_action.text() == "Stop Transcribing"
    wait_for(qtbot, lambda: "Fine" in p.captions.toPlainText())
    assert not p.file_button.isEnabled() and not p.model_picker.models_button.isEnabled()
    assert p.copy_button.isEnabled() and not p.export_button.isEnabled()  # words still coming
    wait_for(qtbot, lambda: p.rtf_label.text() == "RTF 0.25" and p.dropped_label.text() == "dropped 3")
    assert p.input_meter.fraction() > 0 and p.state_label.text().startswith("Transcribing · System default")
    qtbot.mouseClick(p.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: m.state == IDLE and p.start_button.text() == "Start Transcribing")
    # a paragraph per turn, each with its time
    assert p.captions.toPlainText() == "  0:00  Hello there, how are you?\n\n  0:02  Fine thanks."
    opts = backend.options[-1]
    assert (opts.model, opts.used_by, opts.input_device, opts.record_dir) == (
        "demo-stt", "the Transcribe mode", None, None)
    assert all(thread != threading.main_thread().name for _, thread in backend.calls)
    assert p.export_button.isEnabled()
    assert m.copy() == "[0:00] Hello there, how are you?\n\n[0:02] Fine thanks."
    assert QGuiApplication.clipboard().text() == m.copy()
    txt = m.export(str(tmp_path / "live.txt"))
    assert open(txt).read() == "Hello there, how are you?\n\nFine thanks.\n\n"
    srt = m.export(str(tmp_path / "live.srt"))
    assert open(srt).read() == ("1\n00:00:00,000 --> 00:00:01,800\nHello there, how are you?\n\n"
                                "2\n00:00:02,000 --> 00:00:02,600\nFine thanks.\n\n")
    assert sorted(f.name for f in tmp_path.iterdir() if f.suffix in (".txt", ".srt", ".tmp")) == ["live.srt", "live.txt"]
    # a new session starts a new transcript
    qtbot.mouseClick(p.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: m.state == RUNNING)
    assert not p.export_button.isEnabled()
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE)
    assert p.captions.toPlainText().count("Hello") == 1


def test_a_file_with_progress_cancel_and_drag_and_drop(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    backend.file_gate = threading.Event()  # the scripted file waits at each frame until set
    m = transcribe(make_app(backend))
    p = m.page
    audio = wav(tmp_path / "meeting.wav")
    job = m.transcribe_file(audio)
    assert p.file_row.isVisible() and p.cancel_button.isVisible()
    assert not p.start_button.isEnabled() and not p.file_button.isEnabled()
    assert "meeting.wav" in p.file_label.full_text()
    wait_for(qtbot, lambda: "loading the model" in p.file_label.full_text())
    assert not m.start()  # one transcription at a time
    qtbot.mouseClick(p.cancel_button, Qt.MouseButton.LeftButton)
    backend.file_gate.set()
    wait_for(qtbot, lambda: job.outcome == "cancelled")
    assert not p.file_row.isVisible() and p.start_button.isEnabled() and p.file_button.isEnabled()
    assert p.captions.document().isEmpty() and not p.export_button.isEnabled()  # nothing left
    assert "cancelled" in p.state_label.text() and not m.messages.history
    # drop the file on the page: transcribed with progress, shown under its name
    backend.file_gate = None
    assert drop(p, [audio])
    job = m.file_job
    progress = []
    job.progress.connect(lambda done, total, speed: progress.append((done, total, speed)))
    wait_for(qtbot, lambda: job.outcome == "succeeded")
    assert progress and progress[-1][1] == 2.0 and all(s == 4.0 for *_, s in progress)
    assert p.captions.toPlainText().startswith("── meeting.wav ──\n  0:00  Hello there, how are you?")
    assert p.export_button.isEnabled() and "Transcribed meeting.wav" in p.state_label.text()
    assert backend.options[-1].model == "demo-stt" and backend.options[-1].record_dir is None
    srt = m.export(str(tmp_path / "meeting.srt"))
    assert "Fine thanks." in open(srt).read()
    # several files, a file that is not audio: refused with a message naming the trouble
    assert drop(p, [audio, audio]) and "one file at a time" in m.messages.last_box.text()
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    assert drop(p, [notes]) and m.file_job is job
    box = m.messages.last_box
    assert box.windowTitle() == "The file could not be transcribed" and "notes.txt" in box.text()
    # a drag of no local file is not accepted
    mime = QMimeData()
    mime.setText("some text")
    enter = QDragEnterEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(p, enter)
    assert not enter.isAccepted()


def test_a_file_waits_while_another_mode_runs_a_session(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    shell = make_app(backend, model="demo")
    talk(shell).start()
    wait_for(qtbot, lambda: talk(shell).state == RUNNING)
    m = transcribe(shell)
    backend.file_gate = threading.Event()
    m.transcribe_file(wav(tmp_path / "a.wav"))
    assert "waiting for the session running in another mode" in m.page.file_label.full_text()
    m.cancel_file()
    backend.file_gate.set()
    wait_for(qtbot, lambda: m.file_job.outcome == "cancelled")
    talk(shell).stop()
    wait_for(qtbot, lambda: talk(shell).state == IDLE)


def test_models_of_other_kinds_are_refused(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    shell = make_app(backend)
    m = transcribe(shell, model=None)
    assert m.page.model_picker.guide.isVisible()
    assert not m.set_model("demo") and "the Transcribe mode needs a speech to text model" in m.messages.last_box.text()
    qtbot.mouseClick(m.page.model_picker.guide_demo_button, Qt.MouseButton.LeftButton)
    assert m.prefs.model == "demo-stt" and "Demo speech to text (random weights)" in m.page.model_picker.model_label.full_text()
    folder = model_folder(tmp_path / "was-stt", "stt")
    assert m.set_model(folder)
    (tmp_path / "was-stt" / "config.json").write_text('{"model_type": "hibiki"}')
    assert not m.start() and "speech translation model" in m.messages.last_box.text()
    assert m.transcribe_file(wav(tmp_path / "a.wav")) is None
    assert "Translate mode" in m.messages.last_box.text() and not backend.options and m.state == IDLE
    # the model manager offers the STT models (sizes, memory advice) and the STT demo here
    d = shell.models.open(m)
    rows = {r.spec: r for r in d.rows() if r.kind == "stt"}
    assert {"kyutai/stt-1b-en_fr", "kyutai/stt-1b-en_fr-candle", "kyutai/stt-2.6b-en", "demo-stt"} <= set(rows)
    assert rows["kyutai/stt-2.6b-en"].size == "5.6 GB" and "GB" in rows["kyutai/stt-2.6b-en"].fit_text
    d.select_spec("demo-stt")
    assert d.use_button.isEnabled()
    d.select_spec("demo")
    assert not d.use_button.isEnabled() and "for the Talk mode, not for Transcribe" in d.hint_label.text()


def test_a_model_not_downloaded_leads_to_the_model_manager(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    backend.installed = set()
    m = transcribe(make_app(backend, cache_dir=str(tmp_path / "hf")), "kyutai/stt-1b-en_fr-candle")
    assert m.transcribe_file(wav(tmp_path / "a.wav")) is None and not m.start()
    d = m.shell.models.dialog
    assert d.isVisible() and d.selected_spec() == "kyutai/stt-1b-en_fr-candle" and d.download_button.isEnabled()
    assert "not downloaded" in m.page.state_label.text() and not backend.options


def test_settings_persist(qtbot, make_app, settings_path):
    shell = make_app(FakeBackend())
    m = transcribe(shell)
    m.page.record_check.setChecked(True)
    combo = m.device_picker.input_combo
    combo.setCurrentIndex(combo.findData("USB Headset"))
    combo.activated.emit(combo.currentIndex())
    shell.quit()
    again = make_app(FakeBackend()).mode("transcribe")
    assert again.prefs.model == "demo-stt" and again.prefs.input_device == "USB Headset"
    assert again.page.record_check.isChecked() and again.device_picker.input_combo.currentData() == "USB Headset"
    assert again.shell.current_page() == "transcribe"
    assert talk(again.shell).prefs.model == "" and talk(again.shell).prefs.input_device == ""


def test_a_file_with_a_model_too_big_for_memory_asks_first(qtbot, make_app, tmp_path, monkeypatch):
    import moshi_app.modes.live_mode as lm
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(lm, "total_memory_bytes", lambda: 4 * 2**30)
    backend = FakeBackend()
    backend.installed = {"kyutai/stt-2.6b-en"}
    m = transcribe(make_app(backend), "kyutai/stt-2.6b-en")
    audio = wav(tmp_path / "a.wav")
    assert m.transcribe_file(audio) is None and not backend.options
    box = m.messages.last_box
    assert box.windowTitle() == "Out of memory risk" and "4 GB" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert m.file_job is None
    m.transcribe_file(audio)
    next(b for b in m.messages.last_box.buttons() if b.text() == "Load Anyway").click()
    wait_for(qtbot, lambda: m.file_job is not None and m.file_job.outcome == "succeeded")
    assert backend.options[-1].model == "kyutai/stt-2.6b-en"
