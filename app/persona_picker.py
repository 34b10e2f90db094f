"""Talk mode's persona picker (PersonaPlex models; hidden for Moshi, whose behaviour stays as it
was): a voice (the model's and the user's, each with a preview; "Use my voice…" makes one from the
microphone), a role with presets, saved personas, the current persona shown.

The persona goes to the conversation as EngineOptions.kind_options: switching persona never
reloads the model (the engine's ModelCache keeps it; a persona's prompt state is kept too). What
needs the model (a preview, a voice from a recording) runs on the MLX worker through
ConversationEngine.run_on_model, called on the bridge's control thread: never on the UI thread.
The chosen voice and role are remembered in the Talk mode's settings; saved personas live in
moshi_mlx.personas.store ($MOSHI_MLX_HOME/personas.json, shared with the command line)."""

from __future__ import annotations

import shutil
import tempfile

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QInputDialog

from .messages import for_error
from .views.persona_panel import PersonaPanel

PERSONAPLEX = "personaplex"


def _error_kind(e: BaseException) -> str:
    from moshi_mlx.errors import PersonaError

    from .engine_bridge import classify_exception

    return "persona" if isinstance(e, PersonaError) else classify_exception(e)


class PersonaPicker(QObject):
    _voices_listed = Signal(str, object)  # model spec, Future of the VoiceInfo list
    _job_done = Signal(str, object)  # "preview" | "voice", Future of a path
    changed = Signal()  # the persona shown changed (for tests and the page)

    def __init__(self, mode) -> None:
        from moshi_mlx.personas.store import ROLE_PRESETS

        super().__init__(mode)
        self.mode = mode
        self.panel = PersonaPanel()
        self.panel.setVisible(False)
        self.active = False  # the Talk model is a PersonaPlex model
        self.spec = ""
        self.voices: list = []  # VoiceInfo of the current model
        self.saved: list = []  # SavedPersona
        self.player = None
        self.player_factory = None  # tests: fn(path, device) -> player with play()/close()
        self._preview_dir: str | None = None
        self._busy = False
        self._new_voice = ""
        self._listing = None  # the last voice listing's Future
        self._voice = mode.option("persona_voice", "")
        p = self.panel
        p.preset_combo.addItem("Role presets…", "")
        for name, text in ROLE_PRESETS.items():
            p.preset_combo.addItem(name, text)
        p.role_edit.setPlainText(mode.option("persona_role", ""))
        p.fill_voices([], self._voice)
        self._fill_saved()
        p.preset_combo.activated.connect(self._preset_chosen)
        p.saved_combo.activated.connect(self._saved_chosen)
        p.voice_combo.activated.connect(self._voice_chosen)
        p.role_edit.textChanged.connect(self._show_current)
        p.preview_button.clicked.connect(lambda: self.preview())
        p.record_button.clicked.connect(lambda: self.record_voice())
        p.save_button.clicked.connect(lambda: self.save_persona())
        p.delete_button.clicked.connect(lambda: self.delete_persona())
        self._voices_listed.connect(self._on_voices)
        self._job_done.connect(self._on_job_done)
        self._show_current()

    # -- the model -------------------------------------------------------------------------
    def set_model(self, spec: str, kind: str | None) -> None:
        """The Talk model changed (or was shown): the picker is for PersonaPlex models only."""
        self.active = kind == PERSONAPLEX
        self.panel.setVisible(self.active)
        if self.active and spec != self.spec:
            self.spec = spec
            self.refresh_voices()
        elif not self.active:
            self.spec = ""

    def refresh_voices(self):
        """List the model's and the user's voices on the MLX worker; returns the Future."""
        spec = self.spec
        future = self.mode.backend.list_voices(spec, self.mode.shell.settings.cache_dir or None)
        self._listing = future
        future.add_done_callback(lambda f: self._voices_listed.emit(spec, f))
        return future

    @Slot(str, object)
    def _on_voices(self, spec: str, future) -> None:
        if spec != self.spec:
            return  # an answer for a model no longer chosen
        error = future.exception()
        if error is not None:
            self.mode.messages.show(for_error(_error_kind(error), str(error)))
            return
        self.voices = list(future.result())
        self._fill_voices()

    def _fill_voices(self) -> None:
        self.panel.fill_voices([(v.name, v.name + (" (yours)" if v.origin == "yours" else ""),
                                 f"{v.seconds:.1f} s, {'your recording' if v.origin == 'yours' else 'the model’s'}")
                                for v in self.voices], self._voice)
        self._show_current()

    # -- the persona -----------------------------------------------------------------------
    def voice(self) -> str:
        """The chosen voice's name ("" = the model's default voice)."""
        return self.panel.voice_combo.currentData() or ""

    def role(self) -> str:
        return self.panel.role_edit.toPlainText().strip()

    def kind_options(self) -> dict | None:
        """EngineOptions.kind_options of the next conversation (None: Moshi, or the defaults)."""
        if not self.active:
            return None
        options = {k: v for k, v in (("voice", self.voice()), ("role", self.role())) if v}
        return options or None

    def describe(self) -> str:
        """The current persona in a few words: the preset or saved persona it is, else its role."""
        from moshi_mlx.personas.store import ROLE_PRESETS

        role, voice = self.role(), self.voice()
        saved = next((p.name for p in self.saved if (p.voice or "") == voice and p.role == role), None)
        preset = next((name for name, text in ROLE_PRESETS.items() if text == role), None)
        what = saved or preset or (f"“{role[:50]}…”" if len(role) > 50 else f"“{role}”" if role else "no role")
        return f"{what} · voice: {voice or 'the model’s default'}"

    def _show_current(self) -> None:
        """Show the persona chosen now and remember it for the next launch (Talk's settings)."""
        self.panel.current_label.setText("Current persona: " + self.describe())
        if self.mode.option("persona_voice", "") != self._voice:
            self.mode.set_option("persona_voice", self._voice)
        if self.mode.option("persona_role", "") != self.role():
            self.mode.set_option("persona_role", self.role())
        self.changed.emit()

    def choose_voice(self, name: str) -> None:
        """Choose a voice by name ("" = the model's default); one not listed is kept as not found."""
        self._voice = name
        self._fill_voices()

    def _voice_chosen(self, *_args) -> None:
        self._voice = self.voice()
        self._show_current()

    def choose_preset(self, name: str) -> None:
        combo = self.panel.preset_combo
        combo.setCurrentIndex(combo.findText(name))
        self._preset_chosen()

    def _preset_chosen(self, *_args) -> None:
        text = self.panel.preset_combo.currentData()
        if text:
            self.panel.role_edit.setPlainText(text)

    # -- saved personas --------------------------------------------------------------------
    def _store(self, call: str, *args):
        """moshi_mlx.personas.store's `call(*args)`; None (the user told why) when the saved
        personas file cannot be read or written."""
        from moshi_mlx.personas import store

        try:
            return getattr(store, call)(*args)
        except store.PersonaStoreError as e:
            self.mode.messages.show(for_error("personas_file", str(e)))
            return None

    def _fill_saved(self, current: str = "") -> None:
        """Re-read the saved personas (kept in self.saved: describe() runs at every keystroke)."""
        self.saved = self._store("load_personas") or []
        self.panel.fill_saved([p.name for p in self.saved], current)

    def save_persona(self, name: str | None = None) -> bool:
        from moshi_mlx.personas.store import SavedPersona

        if name is None:
            name, ok = QInputDialog.getText(self.panel, "Save Persona", "Name:")
            if not ok:
                return False
        if self._store("save_persona", SavedPersona(name.strip(), self.voice() or None, self.role())) is None:
            return False
        self._fill_saved(name.strip())
        self._show_current()
        return True

    def choose_saved(self, name: str) -> None:
        combo = self.panel.saved_combo
        combo.setCurrentIndex(combo.findData(name))
        self._saved_chosen()

    def _saved_chosen(self, *_args) -> None:
        name = self.panel.saved_combo.currentData()
        self.panel.delete_button.setEnabled(bool(name))
        persona = next((p for p in self.saved if p.name == name), None)
        if persona is not None:
            self.panel.role_edit.setPlainText(persona.role)
            self.choose_voice(persona.voice or "")

    def delete_persona(self) -> None:
        name = self.panel.saved_combo.currentData()
        if name:
            self._store("delete_persona", name)
            self._fill_saved()
            self._show_current()

    # -- jobs on the loaded model (MLX worker) -----------------------------------------------
    def _run_on_model(self, what: str, work, text: str):
        """`work(model)` on the MLX worker with the Talk model (loaded and kept as for a
        conversation), after the bridge's earlier calls; the result comes back to _on_job_done."""
        backend, settings = self.mode.backend, self.mode.shell.settings
        options = backend.make_options(model=self.spec, cache_dir=settings.cache_dir or None)
        self._set_busy(True)
        self.mode.show_state(text)
        future = self.mode.bridge.call(lambda engine: engine.run_on_model(options, work).result())
        future.add_done_callback(lambda f: self._job_done.emit(what, f))
        return future

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for w in (self.panel.preview_button, self.panel.record_button):
            w.setEnabled(not busy and not self.mode.running)

    def preview(self):
        """Hear a few seconds of the chosen voice; returns the job's Future (None: busy)."""
        if self._busy or not self.active or self.mode.running:
            return None
        if self._preview_dir is None:
            self._preview_dir = tempfile.mkdtemp(prefix="moshi-voice-preview-")
        work = self.mode.backend.voice_preview_job(self.voice(), self._preview_dir)
        return self._run_on_model("preview", work, "Preparing the voice preview…")

    def record_voice(self):
        """"Use my voice…": the recording dialog, then the voice made on the MLX worker."""
        from .voice_recording import RecordVoiceDialog

        taken = {v.name for v in self.voices}
        dialog = RecordVoiceDialog(self.panel, self.mode.prefs.input_device or None, taken)
        dialog.voice_recorded.connect(self.make_voice)
        dialog.open()
        return dialog

    @Slot(str, object, int)
    def make_voice(self, name: str, pcm, rate: int):
        """Save a recording (mono float32 at `rate`) as the user's voice `name`, then choose it."""
        if self._busy or not self.active:
            return None
        self._new_voice = name
        return self._run_on_model("voice", self.mode.backend.make_voice_job(name, pcm, rate),
                                  f"Making the voice {name!r}…")

    @Slot(str, object)
    def _on_job_done(self, what: str, future) -> None:
        self._set_busy(False)
        error = future.exception()
        if error is not None:
            self.mode.show_state("Ready")
            self.mode.messages.show(for_error(_error_kind(error), str(error)))
            return
        if what == "preview":
            self.mode.show_state("Playing the voice preview")
            self._play(future.result())
        else:
            self.mode.show_state(f"Saved the voice {self._new_voice!r}")
            self._voice = self._new_voice
            self.refresh_voices()

    def _play(self, path: str) -> None:
        from .player import Player, PlayerError

        self.stop_preview()
        device = self.mode.prefs.output_device or None
        try:
            self.player = (self.player_factory or Player)(path, device)
            self.player.play()
        except PlayerError as e:
            self.mode.messages.show(for_error("playback", str(e)))

    def stop_preview(self) -> None:
        if self.player is not None:
            self.player.close()
            self.player = None

    def shutdown(self) -> None:
        """The app quits: a voice listing still running on the MLX worker ends first (a process
        leaving while MLX runs on a thread aborts); jobs on the model end with the bridge."""
        from concurrent.futures import wait

        if self._listing is not None:
            wait([self._listing], timeout=60)
        self.stop_preview()
        if self._preview_dir is not None:  # made by this picker: its previews only
            shutil.rmtree(self._preview_dir, ignore_errors=True)
            self._preview_dir = None
