"""The shell: switching modes (toolbar, View menu, Cmd+N), a mode refusing a model of another kind,
the tray item, closing to the tray, the global shortcut, settings that persist, menu roles,
VoiceOver names and the layout at 800x600 and full screen."""

from __future__ import annotations

import ctypes
import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSlider, QComboBox,
                               QLineEdit, QPushButton, QScrollBar, QTextEdit, QVBoxLayout,
                               QWidget)

from moshi_app.hotkey import CONTROL_KEY, KEY_M, OPTION_KEY, EventTypeSpec, GlobalHotKey, four_char_code
from moshi_app.modes.base import IDLE, RUNNING, Mode
from moshi_app.settings import SettingsStore
from moshi_mlx.kinds import KINDS

from .conftest import FakeBackend, talk, wait_for


def model_folder(root, model_type):
    """A model folder the resolver accepts (files present; never loaded) with this model_type."""
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model_type": model_type}))
    for name in ("model.safetensors", "tokenizer-e351c8d8-checkpoint125.safetensors", "tok.model"):
        (root / name).write_bytes(b"x")
    return str(root)


class ProbeMode(Mode):
    """The smallest mode the shell takes: what a Transcribe mode module would provide."""

    id = "transcribe"
    label = "Transcribe"
    kinds = ("stt",)
    verbs = ("Start Transcribing", "Stop Transcribing")
    what_for = "Transcription needs a speech-to-text model."
    uses_output = False

    def build_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.model_picker)
        layout.addWidget(self.device_picker)
        page.start_button = QPushButton("Start")
        layout.addWidget(page.start_button)
        page.start_button.clicked.connect(self.toggle)
        return page

    def start(self) -> bool:
        self.set_state(RUNNING)
        self.set_status("Transcribing")
        return True

    def stop(self) -> None:
        self.set_state(IDLE)
        self.set_status("Ready")


@pytest.fixture
def two_modes(monkeypatch):
    import moshi_app.controllers.shell as shell_module
    from moshi_app.modes.talk import TalkMode

    monkeypatch.setattr(shell_module, "MODES", (TalkMode, ProbeMode))


def test_modes_switch_from_toolbar_menu_and_shortcuts(qtbot, make_app, two_modes):
    shell = make_app(FakeBackend(), model="demo")
    w = shell.window
    keys = list(w.page_actions)
    assert keys == ["talk", "transcribe", "history"]
    assert [a.text() for a in w.toolbar.actions()] == ["Talk", "Transcribe", "History"]
    assert [a.shortcut() for a in w.view_menu.actions()] == [
        QKeySequence("Ctrl+1"), QKeySequence("Ctrl+2"), QKeySequence("Ctrl+Y")]
    assert shell.current_page() == "talk" and w.toggle_action.text() == "Start Talking"
    w.page_actions["transcribe"].trigger()
    assert w.stack.currentWidget() is shell.mode("transcribe").page
    assert shell.active_mode.id == "transcribe" and w.toggle_action.text() == "Start Transcribing"
    assert w.windowTitle() == "Moshi · Transcribe"
    # keyboard: Cmd+1 (Ctrl+1 in Qt's names) and Cmd+Y reach the window's actions
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    QTest.keyClick(w, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert shell.current_page() == "talk"
    QTest.keyClick(w, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert shell.current_page() == "history" and w.page_actions["history"].isChecked()
    # History keeps the last mode active for Start/Stop, the tray and the shortcut
    assert shell.active_mode.id == "talk" and shell.tray.toggle_action.text() == "Start Talking"
    # each mode keeps its own model and devices
    shell.mode("transcribe").update_prefs(input_device="USB Headset")
    assert talk(shell).prefs.input_device == "" and talk(shell).prefs.model == "demo"
    assert shell.mode("transcribe").prefs.model == ""
    assert shell.mode("transcribe").device_picker.output_combo is None  # it only listens


def test_a_mode_refuses_a_model_of_another_kind(qtbot, make_app, tmp_path, two_modes):
    backend = FakeBackend()
    shell = make_app(backend, model="demo")
    c = talk(shell)
    stt = model_folder(tmp_path / "stt-model", "stt")
    assert not c.set_model(stt)
    box = shell.messages.last_box
    assert box.windowTitle() == "This model does not fit this mode"
    assert "stt-model is a speech to text model" in box.text() and "the Talk mode needs" in box.text()
    assert "Transcribe mode" in box.text() and c.prefs.model == "demo"
    assert shell.mode("transcribe").set_model(stt)  # where it belongs
    assert not shell.mode("transcribe").set_model("demo")  # and the other way round
    # a model whose kind changed after it was chosen: refused at Start, before the engine
    moshi = model_folder(tmp_path / "moshi-model", "moshi")
    assert c.set_model(moshi)
    (tmp_path / "moshi-model" / "config.json").write_text(json.dumps({"model_type": "tts"}))
    box.done(0)
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    assert "text to speech model" in shell.messages.last_box.text() and "Read aloud" in shell.messages.last_box.text()
    assert not c.running and not backend.options
    # an unreadable config.json is named
    (tmp_path / "moshi-model" / "config.json").write_text("{oops")
    assert not c.start()
    assert "config.json" in shell.messages.last_box.text() and not backend.options


def test_model_manager_groups_by_kind_and_uses_only_fitting_models(qtbot, make_app, tmp_path):
    shell = make_app(FakeBackend(), model="demo")
    stt = model_folder(tmp_path / "my-stt", "stt")
    d = shell.models.open(talk(shell))
    assert shell.models.import_folder(stt)
    assert d.windowTitle() == "Models for Talk"
    assert d.headings() == ["Talk · speech-to-speech conversation",
                            "Talk · conversation with a voice and role prompt (persona)",
                            "Transcribe · speech to text", "Translate · speech translation",
                            "Read aloud · text to speech", "Talk · conversation about an image"]
    kinds = {r.spec: r.kind for r in d.rows()}
    assert kinds["kyutai/stt-2.6b-en"] == "stt" and kinds["nvidia/personaplex-7b-v1"] == "personaplex"
    assert kinds[stt] == "stt" and kinds["demo"] == "moshi"
    # the imported STT folder is selected: installed, but not for Talk
    assert d.selected_spec() == stt and not d.use_button.isEnabled()
    assert "my-stt is a speech to text model: it is for the Transcribe mode, not for Talk." == d.hint_label.text()
    d.select_spec("demo")
    assert d.use_button.isEnabled() and not d.hint_label.isVisibleTo(d)
    # the heading rows cannot be selected
    d.table.selectRow(0)
    assert d.selected_row() is None or d.selected_row().spec == "demo"
    # each mode's demo is offered; demos of kinds without a mode in this build are not
    demos = {r.spec: r.kind for r in d.rows() if r.status == "Built in"}
    assert {spec: demos[spec] for spec in ("demo", "demo-stt", "demo-hibiki")} == {
        "demo": "moshi", "demo-stt": "stt", "demo-hibiki": "hibiki"}
    assert all(shell.models.main.modes.get(KINDS[kind].mode) for kind in demos.values())


def test_a_model_for_a_mode_this_build_lacks_says_so(qtbot, make_app, tmp_path, two_modes):
    shell = make_app(FakeBackend(), model="demo")
    d = shell.models.open(talk(shell))
    assert shell.models.import_folder(model_folder(tmp_path / "my-hibiki", "hibiki"))
    assert not d.use_button.isEnabled()
    assert "speech translation model: it is for the Translate mode (coming in a later version" in d.hint_label.text()
    assert "demo-hibiki" not in [r.spec for r in d.rows()]


def test_tray_starts_and_stops_and_shows_the_state(qtbot, make_app):
    backend = FakeBackend()
    shell = make_app(backend, model="demo")
    tray = shell.tray
    assert tray.toggle_action.text() == "Start Talking" and tray.state_action.text() == "Talk: Ready"
    assert not tray.state_action.isEnabled()  # a label, not a command
    tray.toggle_action.trigger()
    wait_for(qtbot, lambda: talk(shell).state == RUNNING)
    assert tray.toggle_action.text() == "Stop Talking"
    assert tray.state_action.text().startswith("Talk: Conversation on")
    assert "Conversation on" in tray.icon.toolTip()
    tray.toggle_action.trigger()
    wait_for(qtbot, lambda: talk(shell).state == IDLE)
    assert tray.toggle_action.text() == "Start Talking" and tray.state_action.text() == "Talk: Ready"
    assert [name for name, _ in backend.calls].count("start") == 1


def test_window_closes_to_the_tray_while_a_session_runs(qtbot, make_app):
    backend = FakeBackend()
    shell = make_app(backend, model="demo")
    shell.tray.forced_available = True
    ended = []
    shell.closed.connect(lambda: ended.append(True))
    shell.tray.toggle_action.trigger()
    wait_for(qtbot, lambda: talk(shell).state == RUNNING)
    shell.window.close()
    assert not shell.window.isVisible() and talk(shell).running and not ended  # goes on
    shell.tray.show_action.trigger()
    assert shell.window.isVisible()
    shell.window.close()
    assert talk(shell).running
    shell.tray.quit_action.trigger()  # Quit from the tray: stops the session, then closes
    assert ended == [True] and not talk(shell).running
    assert ("stop", "engine-control_0") in backend.calls


def test_closing_the_window_while_idle_quits_even_with_a_tray(qtbot, make_app):
    shell = make_app(FakeBackend(), model="demo")
    shell.tray.forced_available = True
    ended = []
    shell.closed.connect(lambda: ended.append(True))
    shell.window.close()
    assert ended == [True] and not shell.window.isVisible()


class FakeCarbon:
    """Stands in for Carbon.framework: records the calls, keeps the handler to call it like macOS."""

    def __init__(self, install_status=0, register_status=0):
        self.calls = []
        self.install_status, self.register_status = install_status, register_status
        self.handler = None

    def GetApplicationEventTarget(self):
        return 0x1234

    def InstallEventHandler(self, target, proc, count, specs, user_data, out_ref):
        specs = ctypes.cast(specs, ctypes.POINTER(EventTypeSpec))
        self.calls.append(("install", target, count, [(specs[i].eventClass, specs[i].eventKind) for i in range(count)]))
        self.handler = proc
        ctypes.cast(out_ref, ctypes.POINTER(ctypes.c_void_p)).contents.value = 0x5678
        return self.install_status

    def GetEventKind(self, event):
        return event  # the stand-in's events are their kinds: handler(None, 6, None) is a key-up

    def RegisterEventHotKey(self, key, modifiers, hotkey_id, target, options, out_ref):
        self.calls.append(("register", key, modifiers, hotkey_id.signature, hotkey_id.id, target))
        ctypes.cast(out_ref, ctypes.POINTER(ctypes.c_void_p)).contents.value = 0x9ABC
        return self.register_status

    def UnregisterEventHotKey(self, ref):
        self.calls.append(("unregister", ref.value))
        return 0

    def RemoveEventHandler(self, ref):
        self.calls.append(("remove", ref.value))
        return 0


def test_global_hot_key_registration_logic_with_a_stand_in_for_carbon():
    """The Carbon calls themselves run only on a Mac; their arguments and the C callback are
    checked here with a stand-in library."""
    fired = []
    carbon = FakeCarbon()
    hk = GlobalHotKey(lambda: fired.append(1), loader=lambda: carbon, platform="darwin")
    assert hk.register() and hk.registered
    released = []
    hk.on_release = lambda: released.append(1)
    assert carbon.calls[0] == ("install", 0x1234, 2, [(four_char_code("keyb"), 5), (four_char_code("keyb"), 6)])
    assert carbon.calls[1] == ("register", KEY_M, CONTROL_KEY | OPTION_KEY, four_char_code("Mshi"), 1, 0x1234)
    assert four_char_code("keyb") == 0x6B657962 and KEY_M == 0x2E and CONTROL_KEY | OPTION_KEY == 0x1800
    assert carbon.handler(None, 5, None) == 0 and fired == [1]  # through the real C callback
    assert carbon.handler(None, 6, None) == 0 and fired == [1] and released == [1]  # kEventHotKeyReleased
    hk.unregister()
    assert carbon.calls[2:] == [("unregister", 0x9ABC), ("remove", 0x5678)] and not hk.registered
    taken = FakeCarbon(register_status=-9878)  # eventHotKeyExistsErr
    hk = GlobalHotKey(lambda: None, loader=lambda: taken, platform="darwin")
    assert not hk.register() and "another app may already use" in hk.error
    assert taken.calls[-1] == ("remove", 0x5678)
    linux = GlobalHotKey(lambda: None, platform="linux")
    assert not linux.register() and linux.error == "global shortcuts are available on macOS only"


def test_global_shortcut_toggles_the_active_mode_and_follows_the_setting(qtbot, make_app):
    carbon = FakeCarbon()
    shell = make_app(FakeBackend(), model="demo", hotkey_factory=lambda cb: GlobalHotKey(
        cb, loader=lambda: carbon, platform="darwin"))
    assert shell.hotkey.registered
    carbon.handler(None, 5, None)  # the user pressed Control-Option-M in another app
    carbon.handler(None, 6, None)  # and let it go: nothing more (no push-to-talk in Talk)
    wait_for(qtbot, lambda: talk(shell).state == RUNNING)
    carbon.handler(None, 5, None)
    wait_for(qtbot, lambda: talk(shell).state == IDLE)
    dialog = shell.open_settings()
    assert dialog.global_shortcut.isChecked() and "Control-Option-M" in dialog.global_shortcut.text()
    dialog.global_shortcut.setChecked(False)
    dialog.accept()
    assert not shell.hotkey.registered and carbon.calls[-1][0] == "remove"
    assert not SettingsStore(shell.store.location).load().global_shortcut


def test_settings_persist_per_mode_and_the_last_page(qtbot, make_app, settings_path, two_modes):
    shell = make_app(FakeBackend(), model="demo")
    shell.mode("transcribe").update_prefs(model="kyutai/stt-1b-en_fr", input_device="USB Headset")
    shell.show_page("history")
    shell.window.resize(780, 560)  # within the offscreen screen (800x600): restoring fits it in
    shell.quit()
    store = SettingsStore(settings_path)
    assert store.value("modes/transcribe/model") == "kyutai/stt-1b-en_fr"
    again = make_app(FakeBackend())
    assert again.current_page() == "history" and again.active_mode.id == "talk"
    assert again.mode("transcribe").prefs.input_device == "USB Headset"
    assert again.mode("transcribe").device_picker.input_combo.currentData() == "USB Headset"
    assert talk(again).prefs.model == "demo"
    assert (again.window.width(), again.window.height()) == (780, 560)


def test_talk_keeps_the_model_and_devices_chosen_before_modes_existed(qtbot, make_app, settings_path):
    from PySide6.QtCore import QSettings

    old = QSettings(settings_path, QSettings.Format.IniFormat)
    old.setValue("settings/model", "kyutai/moshika-mlx-q4")
    old.setValue("settings/output_device", "USB Headset")
    old.sync()
    c = talk(make_app(FakeBackend()))
    assert c.prefs.model == "kyutai/moshika-mlx-q4" and c.prefs.output_device == "USB Headset"


def test_native_menu_roles_and_about(qtbot, make_app):
    shell = make_app(FakeBackend(), model="demo")
    w = shell.window
    assert w.settings_action.menuRole() == QAction.MenuRole.PreferencesRole
    assert w.settings_action.shortcut() == (QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
                                            or [QKeySequence("Ctrl+,")])[0]  # Cmd+, on macOS
    assert w.quit_action.menuRole() == QAction.MenuRole.QuitRole
    assert w.about_action.menuRole() == QAction.MenuRole.AboutRole
    assert w.toggle_action.shortcut() == QKeySequence("Ctrl+Return")
    assert [m.title() for m in (a.menu() for a in w.menuBar().actions())] == [
        "&File", "&View", "&Session", "&Models", "&Help"]


def _controls(root: QWidget) -> list[QWidget]:
    kinds = (QAbstractButton, QComboBox, QAbstractSlider, QLineEdit, QAbstractItemView, QTextEdit)
    return [w for w in root.findChildren(QWidget) if isinstance(w, kinds) and w.isVisibleTo(root)
            and not isinstance(w, QScrollBar)  # read by VoiceOver as the scroll bar of its view
            and not isinstance(w.parent(), (QAbstractItemView, QComboBox))
            and not w.objectName().startswith("qt_")]


def test_every_control_has_a_voiceover_name(qtbot, make_app, tmp_path):
    from PySide6.QtGui import QAccessible

    from .test_history_index import record

    shell = make_app(FakeBackend(), model="demo", record_dir=str(tmp_path / "rec"))
    record(tmp_path / "rec", [" Hello", " there"], 1.0)
    dialogs = [shell.window, shell.models.open(talk(shell)), shell.open_settings()]
    shell.show_page("history")
    shell.history.select(shell.history.shown[0])
    for page in (*shell.modes, "history"):
        shell.show_page(page)
        for root in dialogs:
            unnamed = []
            for w in _controls(root):
                iface = QAccessible.queryAccessibleInterface(w)
                if iface is None or not iface.text(QAccessible.Text.Name).strip():
                    unnamed.append(f"{type(w).__name__} {w.objectName()!r} {getattr(w, 'text', lambda: '')()!r}")
            assert not unnamed, (page, root.windowTitle(), unnamed)
    names = {QAccessible.queryAccessibleInterface(w).text(QAccessible.Text.Name) for w in _controls(shell.window)}
    assert {"Search recordings", "Playback position", "Recordings"} <= names


@pytest.mark.parametrize("size", [(800, 600), (1920, 1080)], ids=["800x600", "full-screen"])
def test_layout_fits_at_800x600_and_full_screen(qtbot, make_app, tmp_path, size):
    from .test_history_index import record

    shell = make_app(FakeBackend(), model="kyutai/moshiko-mlx-q4", record_dir=str(tmp_path / "rec"))
    record(tmp_path / "rec", [" Hello", " there"], 1.0)
    w = shell.window
    assert w.minimumSizeHint().width() <= 800 and w.minimumSizeHint().height() <= 600
    w.resize(*size)
    for page in (*shell.modes, "history"):
        shell.show_page(page)
        if page == "history":
            shell.history.select(shell.history.shown[0])
        qtbot.wait(20)
        assert (w.width(), w.height()) == size
        squeezed = [b.text() for b in w.findChildren(QAbstractButton)
                    if b.isVisibleTo(w) and b.text() and b.width() < b.minimumSizeHint().width()]
        outside = [b.text() for b in w.findChildren(QAbstractButton) if b.isVisibleTo(w) and b.text()
                   and not w.rect().contains(b.mapTo(w, b.rect().bottomRight()))]
        assert not squeezed and not outside, (page, squeezed, outside)
