"""What a mode is: one way of using the engine (Talk, Transcribe, Translate, Read aloud), a page of
the main window plus its controller. The shell (app/controllers/shell.py) shows the page, switches
modes, and drives start/stop from its menu, the tray and the global shortcut.

A mode subclass provides:
- `id` (stable, used in settings and in recordings' metadata), `label`, `kinds` (the model kinds it
  accepts, moshi_mlx.kinds), `verbs` (what Start/Stop say in menus: "Start Talking"...),
  `what_for` (one sentence for its empty state);
- `build_page()` -> its QWidget (it may use self.model_picker and self.device_picker);
- `start()` -> bool (False: did not start, the user was told why), `stop()`, `shutdown()` (blocking,
  when the app quits), calling `set_state()` as its session goes idle -> busy -> running -> idle
  and `set_status()` with a line for the tray;
- its recordings: the engine writes them (WAV, transcript and the JSON sidecar holding the mode id,
  kind and model: moshi_mlx/engine/session_meta.py) into `shell.settings.record_dir`; the mode
  emits `session_recorded(paths)` when one is complete, and History lists it.
This base class keeps the mode's own settings (model, devices), checks a model's kind before it is
used, and fills the model and device pickers.
"""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from ..messages import for_error
from ..settings import ModeSettings
from ..views.mode_parts import DevicePicker, ModelPicker

IDLE, BUSY, RUNNING = "idle", "busy", "running"  # busy: starting or stopping
DEMO_LABEL = "Demo (random weights: noise only)"


def demo_label(spec: str) -> str:
    """How a kind's demo model reads ("" when `spec` is not a demo)."""
    from moshi_mlx.kinds import demo_kind

    kind = demo_kind(spec)
    if kind is None:
        return ""
    return DEMO_LABEL if kind.name == "moshi" else f"Demo {kind.label} (random weights)"


def model_display_name(backend, spec: str) -> str:
    """How a model spec reads in the window."""
    if spec == backend.demo_spec():
        return DEMO_LABEL
    if demo_label(spec):
        return demo_label(spec)
    for known in backend.known_models():
        if known.repo_id == spec:
            return f"{known.label} ({spec})"
    return spec


class Mode(QObject):
    id: ClassVar[str] = ""
    label: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()
    verbs: ClassVar[tuple[str, str]] = ("Start", "Stop")
    what_for: ClassVar[str] = ""
    uses_input: ClassVar[bool] = True
    uses_output: ClassVar[bool] = True

    state_changed = Signal(str)  # IDLE | BUSY | RUNNING
    status_changed = Signal(str)  # a line for the tray and the window title
    session_recorded = Signal(list)  # paths of a finished recording
    model_changed = Signal(str)  # the mode's model spec, after the user chose another one

    def __init__(self, shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.backend = shell.backend
        self.messages = shell.messages
        self.prefs: ModeSettings = shell.store.load_mode(self.id)
        self.devices: list = []
        self._state = IDLE
        self._status = "Ready"
        self.model_picker = ModelPicker(self.what_for)
        self.device_picker = DevicePicker(self.uses_input, self.uses_output)
        self.page: QWidget = self.build_page()
        self.page.setObjectName(f"mode-page-{self.id}")
        mp, dp = self.model_picker, self.device_picker
        mp.models_button.clicked.connect(self.open_models)
        mp.guide_models_button.clicked.connect(self.open_models)
        mp.guide_demo_button.clicked.connect(lambda: self.set_model(self.demo_spec()))
        dp.refresh_button.clicked.connect(lambda: self.refresh_devices(refresh=True))
        for combo in dp.combos():
            combo.activated.connect(self._devices_chosen)
        self.refresh_devices(refresh=False)
        self.show_model()

    # -- what a mode implements -----------------------------------------------------------------
    def build_page(self) -> QWidget:
        raise NotImplementedError

    def start(self) -> bool:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        """The app is quitting: stop and wait for the engine, finish background jobs."""

    def settings_changed(self) -> None:
        """The app's settings (shell.settings) were edited in the Settings dialog."""

    def settings_pages(self, parent) -> list:
        """(title, widget) pages this mode adds to the Settings dialog (made for each opening; they
        act at once); `parent` owns their controllers."""
        return []

    # -- state ----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._state != IDLE

    @property
    def status(self) -> str:
        return self._status

    def set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    def set_status(self, text: str) -> None:
        self._status = text
        self.status_changed.emit(text)

    def toggle(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    @property
    def holds_to_talk(self) -> bool:
        """True when the shortcut is held to talk (the Assistant's push-to-talk): key-down calls
        hold(True), key-up hold(False), instead of toggle()."""
        return False

    def hold(self, held: bool) -> None:
        """The shortcut went down (True) or up (False) while holds_to_talk."""

    # -- settings of this mode --------------------------------------------------------------------
    def update_prefs(self, **changes) -> None:
        self.prefs = self.prefs.replace(**changes)
        self.shell.store.save_mode(self.id, self.prefs)

    def option(self, key: str, default):
        """One of this mode's own settings (Translate's guidance, Record...), `default` until set."""
        return self.shell.store.load_option(self.id, key, default)

    def set_option(self, key: str, value) -> None:
        self.shell.store.save_option(self.id, key, value)

    # -- model ----------------------------------------------------------------------------------
    def demo_spec(self) -> str:
        from moshi_mlx.kinds import KINDS

        return KINDS[self.kinds[0]].demo if self.kinds else self.backend.demo_spec()

    def kind_problem(self, spec: str) -> str:
        """'' when `spec` is a model this mode can use (or its kind cannot be known before it is
        downloaded); otherwise the message saying what it is and what to use instead."""
        from moshi_mlx.errors import MoshiError
        from moshi_mlx.kinds import ModelKindError, check_kind

        from .labels import MODE_LABELS

        try:
            kind = self.backend.model_kind(spec, self.shell.settings.cache_dir or None)
            if kind is not None:
                check_kind({"model_type": kind}, self.kinds, model_display_name(self.backend, spec),
                           f"the {self.label} mode", MODE_LABELS)
        except ModelKindError as e:
            return str(e)
        except MoshiError as e:  # an unreadable config.json: the engine will say the same
            return str(e)
        return ""

    def set_model(self, spec: str) -> bool:
        """Use `spec` in this mode from now on; refused (with a message) when its kind does not fit."""
        problem = self.kind_problem(spec)
        if problem:
            self.messages.show(for_error("model_kind", problem))
            return False
        changed = spec != self.prefs.model
        self.update_prefs(model=spec)
        self.show_model()
        if changed:
            self.model_changed.emit(spec)
        return True

    def show_model(self) -> None:
        spec = self.prefs.model
        self.model_picker.show_model(model_display_name(self.backend, spec) if spec else
                                     "No model yet: open Models… to get one", bool(spec))

    def open_models(self):
        return self.shell.models.open(self)

    # -- devices --------------------------------------------------------------------------------
    def refresh_devices(self, refresh: bool = True) -> None:
        """Re-read the audio devices (while idle); keeps the current choices."""
        if self.running:
            return
        try:
            self.devices = self.backend.list_devices(refresh=refresh)
        except Exception as e:  # noqa: BLE001 - PortAudio missing or failing: shown, the app goes on
            self.devices = []
            self.messages.show(for_error("no_input_device", str(e)))
        self.device_picker.fill(self.devices, self.prefs.input_device, self.prefs.output_device)

    def input_devices(self) -> list:
        return [d for d in self.devices if d.max_input_channels > 0]

    def _devices_chosen(self, *_args) -> None:
        dp = self.device_picker
        self.update_prefs(input_device=(dp.input_combo.currentData() or "") if dp.input_combo else "",
                          output_device=(dp.output_combo.currentData() or "") if dp.output_combo else "")
