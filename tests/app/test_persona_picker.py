"""Talk mode's persona picker: shown for PersonaPlex models only, presets, saved personas, the
persona given to the conversation as kind_options; with the real engine and demo-personaplex
through the virtual device: the persona reaches the stream, a bad voice is the persona message
with the model kept loaded, a voice preview and a voice made from a recording on the MLX worker."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from moshi_mlx.personas.store import ROLE_PRESETS

from .conftest import SCREENSHOTS, FakeBackend, talk, wait_for

VOICES = ["demo-high", "demo-low", "demo-mid"]  # demo-personaplex's own


def _voices(picker) -> list:
    combo = picker.panel.voice_combo
    return [combo.itemData(i) for i in range(combo.count())]


def _listed(qtbot, picker) -> None:
    wait_for(qtbot, lambda: set(VOICES) <= set(_voices(picker)), 120_000)


def test_hidden_for_moshi_shown_for_personaplex(qtbot, make_app):
    backend = FakeBackend()
    c = talk(make_app(backend, model="demo"))
    panel = c.persona.panel
    assert not panel.isVisible() and c.persona.kind_options() is None
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: bool(backend.options) and c.running)
    assert backend.options[-1].kind_options is None  # Moshi: as before
    c.stop()
    wait_for(qtbot, lambda: not c.running)
    assert c.set_model("demo-personaplex")
    assert panel.isVisible()
    _listed(qtbot, c.persona)
    assert _voices(c.persona)[0] == ""  # the model's default voice first
    assert all(w.accessibleName() for w in panel.controls() + (panel.current_label,))
    c.persona.choose_preset("Language tutor")
    c.shell.window.resize(800, 600)  # the page still fits
    qtbot.wait(50)
    assert c.page.start_button.isVisible() and panel.role_edit.height() > 20
    assert c.page.transcript_view.height() > 60 and not panel.delete_button.isEnabled()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert c.shell.window.grab().save(str(SCREENSHOTS / "persona.png"))
    assert c.set_model("demo")
    assert not panel.isVisible()


def test_presets_saved_personas_and_the_persona_given_to_a_conversation(qtbot, make_app, settings_path):
    backend = FakeBackend()
    shell = make_app(backend, model="demo-personaplex")
    picker = talk(shell).persona
    _listed(qtbot, picker)
    picker.choose_preset("Language tutor")
    assert picker.role() == ROLE_PRESETS["Language tutor"]
    assert "Language tutor" in picker.panel.current_label.text()
    picker.choose_voice("demo-mid")
    assert picker.save_persona("Tutor")
    assert "Tutor · voice: demo-mid" in picker.panel.current_label.text()
    picker.choose_preset("Storyteller")
    picker.choose_voice("demo-low")
    assert picker.save_persona("Teller")
    # a saved persona brings back its voice and role
    picker.choose_saved("Tutor")
    assert (picker.voice(), picker.role()) == ("demo-mid", ROLE_PRESETS["Language tutor"])
    c = talk(shell)
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: bool(backend.options) and c.running)
    assert backend.options[-1].kind_options == {"voice": "demo-mid", "role": ROLE_PRESETS["Language tutor"]}
    assert not picker.panel.voice_combo.isEnabled()  # the persona stays as it is while it runs
    c.stop()
    wait_for(qtbot, lambda: not c.running)
    assert picker.panel.voice_combo.isEnabled()
    # a second conversation with another persona: the same engine (the model is never reloaded)
    picker.choose_saved("Teller")
    picker.panel.role_edit.setPlainText("You are a pirate.")
    c.start()
    wait_for(qtbot, lambda: c.running and len(backend.options) == 2)
    assert backend.options[-1].kind_options == {"voice": "demo-low", "role": "You are a pirate."}
    assert [name for name, _ in backend.calls].count("init") == 1
    c.stop()
    wait_for(qtbot, lambda: not c.running)
    picker.choose_saved("Teller")
    picker.delete_persona()
    shell.quit()
    # reopened: the saved personas and the current choice are still there
    again = talk(make_app(FakeBackend())).persona
    saved = again.panel.saved_combo
    assert [saved.itemData(i) for i in range(saved.count())] == ["", "Tutor"]
    assert (again.voice(), again.role()) == ("demo-low", ROLE_PRESETS["Storyteller"])



@pytest.mark.audio
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_personas_with_the_real_engine(qtbot, make_app, virtual_audio_device):
    c = talk(make_app(None, model="demo-personaplex", aec=False))
    picker = c.persona
    _listed(qtbot, picker)
    qtbot.mouseClick(c.page.refresh_button, Qt.MouseButton.LeftButton)

    # the persona reaches the conversation's stream
    picker.choose_voice("demo-low")
    picker.panel.role_edit.setPlainText("You are a pirate.")  # the demo's context is short
    assert c.start(), c.messages.history
    qtbot.waitUntil(lambda: c.page.start_button.text() == "Stop conversation"
                    and c.page.start_button.isEnabled() or bool(c.messages.history), timeout=40_000)
    assert not c.messages.history, (c.messages.history, c.page.state_label.text())
    engine = c.bridge._engine
    setup = engine._session.core.setup
    assert (setup.persona.voice.name, setup.persona.role) == ("demo-low", "You are a pirate.")
    model = engine._models.model
    c.stop()
    wait_for(qtbot, lambda: not c.running, 30_000)

    # a voice that is not there: the persona message, and the model stays loaded
    picker.choose_voice("nobody")
    assert "nobody (not found)" in picker.panel.voice_combo.currentText()
    c.start()
    wait_for(qtbot, lambda: bool(c.messages.history) and not c.running, 60_000)
    assert c.messages.history[-1].title == "This persona cannot be used"
    assert engine._models.model is model

    # a preview of a voice, on the MLX worker, played to the output device
    played = []

    class FakePlayer:
        def __init__(self, path, device):
            played.append((path, Path(path).stat().st_size, threading.current_thread().name))

        def play(self):
            pass

        def close(self):
            pass

    picker.player_factory = FakePlayer
    picker.choose_voice("demo-high")
    assert picker.preview() is not None
    wait_for(qtbot, lambda: bool(played), 60_000)
    assert played[0][1] > 44 and played[0][2] == threading.main_thread().name
    assert engine._models.model is model

    # "Use my voice…": a recording becomes the user's voice, chosen at once
    t = np.arange(24000 * 6) / 24000
    pcm = (0.2 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    picker.make_voice("Mine", pcm, 24000)
    wait_for(qtbot, lambda: "Mine" in _voices(picker), 60_000)
    assert picker.voice() == "Mine" and "Mine (yours)" in picker.panel.voice_combo.currentText()
    c.start()
    wait_for(qtbot, lambda: c.page.start_button.text() == "Stop conversation"
             and c.page.start_button.isEnabled(), 60_000)
    assert engine._session.core.setup.persona.voice.name == "Mine"
    assert engine._models.model is model  # never reloaded
    c.stop()
    wait_for(qtbot, lambda: not c.running, 30_000)
    assert c.messages.history[-1].title == "This persona cannot be used"  # only the bad voice's
    preview_dir = picker._preview_dir
    c.shell.window.close()
    assert not Path(preview_dir).exists()


def test_record_voice_dialog_records_5_to_10_seconds(qtbot, make_app):
    from moshi_app.voice_recording import RecordVoiceDialog

    class FakeStream:
        def __init__(self, callback):
            self.callback = callback

        def start(self):
            for _ in range(12):  # 12 s offered, 10 s kept
                self.callback(np.full((24000, 1), 0.1, np.float32), 24000, None, None)

        def stop(self):
            pass

        def close(self):
            pass

    got = []
    dialog = RecordVoiceDialog(None, None, {"demo-low"}, open_stream=lambda cb: (FakeStream(cb), 24000))
    qtbot.addWidget(dialog)
    dialog.voice_recorded.connect(lambda name, pcm, rate: got.append((name, len(pcm), rate)))
    dialog.name_edit.setText("demo-low")
    dialog.toggle()
    wait_for(qtbot, lambda: dialog.save_button.isEnabled(), 5_000)  # full at 10 s: stopped itself
    dialog.save()
    assert not got and "already a voice" in dialog.status_label.text()
    dialog.name_edit.setText("Mine")
    dialog.save()
    assert got == [("Mine", 240000, 24000)]


def test_an_unreadable_saved_personas_file_is_said_once(qtbot, make_app, tmp_path):
    store = tmp_path / "home" / "personas.json"
    store.parent.mkdir(parents=True)
    store.write_text("{not json")
    c = talk(make_app(FakeBackend(), model="demo-personaplex"))
    assert [m.title for m in c.messages.history] == ["Saved personas cannot be read or saved"]
    assert "personas.json" in c.messages.history[0].text
    c.persona.panel.role_edit.setPlainText("You are a pirate.")  # no message at every keystroke
    assert len(c.messages.history) == 1 and c.persona.kind_options() == {"role": "You are a pirate."}
    assert store.read_text() == "{not json"  # never replaced by the app
