"""The Translate mode's wiring with a scripted engine: the translated text live, the headphones hint,
the engine's options (kind, guidance, echo cancellation, sampling from the model's config.json,
recording), errors, refusals, settings."""

from __future__ import annotations

import json
import threading

from PySide6.QtCore import Qt

from moshi_app.modes.base import IDLE, RUNNING

from .conftest import FakeBackend, open_mode, wait_for
from .test_shell import model_folder


def translate(shell, model="demo-hibiki"):
    return open_mode(shell, "translate", model)


def hibiki_folder(root, lm_gen_config):
    """A Hibiki model folder the resolver accepts (never loaded) whose config.json has sampling."""
    folder = model_folder(root, "hibiki")
    (root / "config.json").write_text(json.dumps({"model_type": "hibiki", "lm_gen_config": lm_gen_config}))
    return folder


def test_translated_text_levels_and_the_engine_options(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    shell = make_app(backend, record_dir=str(tmp_path / "rec"))
    m = translate(shell)
    p = m.page
    assert p.hint.isVisible() and "Use headphones" in p.hint_label.text()
    assert p.aec_check.isChecked() and p.guidance.value() == 1.0 and not p.record_check.isChecked()
    p.guidance.setValue(3.0)
    p.record_check.setChecked(True)
    qtbot.mouseClick(p.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: m.state == RUNNING and p.start_button.text() == "Stop Translating")
    assert shell.window.toggle_action.text() == "Stop Translating" and shell.window.windowTitle() == "Moshi · Translate · on"
    assert p.state_label.text().startswith("Translating · System default (MacBook Pro Microphone) → System default")
    wait_for(qtbot, lambda: "thanks." in p.text_view.toPlainText())
    wait_for(qtbot, lambda: p.rtf_label.text() == "RTF 0.50" and p.latency_label.text() == "latency 180 ms")
    assert p.input_meter.fraction() > 0 and p.output_meter.fraction() > 0
    assert not p.guidance.isEnabled() and not p.aec_check.isEnabled() and not p.device_picker.input_combo.isEnabled()
    lines = p.text_view.toPlainText().splitlines()
    assert lines[0].startswith("── Translation 1 · ") and lines[1:] == [
        "  0:00  Hello there, how are you?", "  0:01  Fine thanks."]
    m.color_scheme_changed()  # redrawn (new palette colours), same text
    assert p.text_view.toPlainText().splitlines() == lines
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE and p.start_button.text() == "Start Translating")
    assert m.last_recordings and p.guidance.isEnabled()
    o = backend.options[-1]
    assert (o.model, o.kinds, o.used_by, o.kind_options) == (
        "demo-hibiki", ("hibiki",), "the app's Translate mode", {"cfg_coef": 3.0})
    assert o.aec is True and o.record_dir == str(tmp_path / "rec")
    assert (o.text_temperature, o.text_top_k, o.audio_temperature, o.audio_top_k) == (0.7, 25, 0.8, 250)
    assert all(thread != threading.main_thread().name for _, thread in backend.calls)
    # a second session is a new section of the text
    p.aec_check.setChecked(False)
    m.start()
    wait_for(qtbot, lambda: "Translation 2" in p.text_view.toPlainText())
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE)
    assert backend.options[-1].aec is False


def test_sampling_comes_from_the_models_config(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    folder = hibiki_folder(tmp_path / "hibiki", {"temp_text": 0.2, "top_k_text": 10, "temp": 0.6, "top_k": 100})
    m = translate(make_app(backend, seed=5), folder)
    m.start()
    wait_for(qtbot, lambda: m.state == RUNNING)
    m.stop()
    wait_for(qtbot, lambda: m.state == IDLE)
    o = backend.options[-1]
    assert (o.text_temperature, o.text_top_k, o.audio_temperature, o.audio_top_k, o.seed) == (0.2, 10, 0.6, 100, 5)
    assert o.model == folder


def test_engine_errors_and_refusals(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    backend.error_after = ("model_kind", True)  # what the engine sends for a model of another kind
    shell = make_app(backend)
    m = translate(shell)
    m.start()
    wait_for(qtbot, lambda: m.messages.last_box is not None)
    assert m.messages.last_box.windowTitle() == "This model does not fit this mode"
    wait_for(qtbot, lambda: m.state == IDLE and m.page.start_button.isEnabled())
    assert not m.set_model("demo-stt")
    assert "the Translate mode needs a speech translation model" in m.messages.last_box.text()
    assert "Transcribe mode" in m.messages.last_box.text() and m.prefs.model == "demo-hibiki"
    # the model manager lists the Hibiki models (sizes, memory advice) and the demo for this mode
    d = shell.models.open(m)
    rows = {r.spec: r for r in d.rows() if r.kind == "hibiki"}
    assert {"kyutai/hibiki-1b-pytorch-bf16", "kyutai/hibiki-2b-pytorch-bf16", "kyutai/hibiki-zero-3b-pytorch-bf16",
            "kyutai/hibiki-1b-mlx-bf16", "kyutai/hibiki-2b-mlx-bf16", "demo-hibiki"} <= set(rows)
    assert rows["kyutai/hibiki-1b-pytorch-bf16"].size == "4.0 GB" and rows["kyutai/hibiki-1b-pytorch-bf16"].fit
    assert d.windowTitle() == "Models for Translate"
    d.select_spec("kyutai/stt-1b-en_fr")
    assert not d.use_button.isEnabled() and "for the Transcribe mode, not for Translate" in d.hint_label.text()


def test_settings_persist(qtbot, make_app):
    shell = make_app(FakeBackend())
    m = translate(shell)
    p = m.page
    p.guidance.setValue(2.5)
    p.aec_check.setChecked(False)
    p.record_check.setChecked(True)
    combo = m.device_picker.output_combo
    combo.setCurrentIndex(combo.findData("USB Headset"))
    combo.activated.emit(combo.currentIndex())
    shell.quit()
    again = make_app(FakeBackend()).mode("translate")
    p = again.page
    assert again.prefs.model == "demo-hibiki" and again.prefs.output_device == "USB Headset"
    assert (p.guidance.value(), p.aec_check.isChecked(), p.record_check.isChecked()) == (2.5, False, True)
    assert again.shell.mode("transcribe").page.record_check.isChecked() is False  # each mode its own


def test_record_every_session_reaches_every_mode(qtbot, make_app):
    shell = make_app(FakeBackend())
    dialog = shell.open_settings()
    dialog.auto_record.setChecked(True)
    dialog.accept()
    assert all(m.page.record_check.isChecked() for m in shell.modes.values())
    # a mode's own choice then stays, until the setting itself changes again
    shell.mode("translate").page.record_check.setChecked(False)
    dialog = shell.open_settings()
    dialog.text_top_k.setValue(30)
    dialog.accept()
    assert not shell.mode("translate").page.record_check.isChecked()
    assert shell.mode("transcribe").page.record_check.isChecked()
