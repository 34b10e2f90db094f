"""Fixtures for the app tests: settings in a temporary INI file, a scripted engine, a fake hub."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from moshi_app.backend import Backend
from moshi_mlx.engine.devices import AudioDevice
from moshi_mlx.engine.events import (ErrorEvent, LevelEvent, StateEvent, StatsEvent, TextEvent)

# Screenshots go to tests/.artifacts (ignored by git); MOSHI_UPDATE_SCREENSHOTS=1 writes the README's
# copies in docs/screenshots instead.
_REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = (_REPO / "docs" / "screenshots" if os.environ.get("MOSHI_UPDATE_SCREENSHOTS") == "1"
               else _REPO / "tests" / ".artifacts" / "screenshots")


def device(index, name, inputs, outputs, default_in=False, default_out=False, builtin=False):
    return AudioDevice(index, name, inputs, outputs, 48000.0, default_in, default_out, builtin)


DEFAULT_DEVICES = [
    device(0, "MacBook Pro Microphone", 1, 0, default_in=True, builtin=True),
    device(1, "MacBook Pro Speakers", 0, 2, default_out=True, builtin=True),
    device(2, "USB Headset", 1, 2),
]


class ScriptedEngine:
    """Same API as moshi_mlx.engine.conversation.ConversationEngine; plays a script of events on its
    own worker thread (used where the test is about the app's wiring, not the model)."""

    def __init__(self, backend: "FakeBackend", listener) -> None:
        self.backend = backend
        self._listener = listener
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.conversation = 0
        self.recording_paths = None
        backend.calls.append(("init", threading.current_thread().name))

    def start(self, options) -> None:
        self.backend.calls.append(("start", threading.current_thread().name))
        self.backend.options.append(options)
        if self.backend.start_error is not None:
            raise self.backend.start_error
        self._stop.clear()
        self.conversation += 1
        self._thread = threading.Thread(target=self._run, args=(options, self.conversation),
                                        name="scripted-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.backend.calls.append(("stop", threading.current_thread().name))
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def change(self, kind_options: dict) -> None:
        """ConversationEngine.change: applied at once here (OptionsEvent at the scripted time)."""
        from moshi_mlx.engine.events import OptionsEvent

        self.backend.calls.append(("change", threading.current_thread().name))
        self.backend.changes.append(dict(kind_options))
        if not self.running:
            raise RuntimeError("no conversation is running: pass the options to start()")
        self._listener(OptionsEvent(dict(kind_options), 1.5, self.conversation))

    def _begin(self, options, recording: str, key: str) -> None:
        """Loading, ready, a recording (`recording` in the recordings folder) when asked, running."""
        emit = self._listener
        emit(StateEvent("loading", options.model))
        emit(StateEvent("ready", options.model))
        if options.record_dir:
            from moshi_mlx.audio_io import write_wav

            path = Path(options.record_dir) / recording
            write_wav(path, np.zeros(2400, np.float32))
            self.recording_paths = {key: path}
        emit(StateEvent("running", "scripted"))

    def _run(self, options, conversation: int) -> None:
        emit = self._listener
        self._begin(options, f"conversation-{conversation}-moshi.wav", "moshi")
        words = self.backend.words
        i = 0
        errored = False
        while not self._stop.wait(0.02):
            t = i * 0.08
            emit(LevelEvent(-20.0 - (i % 5), -12.0 - (i % 3)))
            if i < len(words) * 3 and i % 3 == 0:
                emit(TextEvent(words[i // 3], t, conversation))
            if i % 10 == 9:
                emit(StatsEvent(frames=i + 1, real_time_factor=0.5, latency_ms=180.0, step_ms=40.0,
                                dropped_frames=2, underruns=1))
            gate = self.backend.error_gate
            if (self.backend.error_after is not None and not errored and i >= 5
                    and (gate is None or gate.is_set())):
                kind, fatal = self.backend.error_after
                errored = True
                emit(ErrorEvent(kind, f"scripted {kind} failure", fatal=fatal))
                if fatal:
                    break
            i += 1
        emit(StateEvent("stopping"))
        emit(StateEvent("stopped"))


def stt_script(words: list[str], step_s: float = 0.4) -> list[tuple[float, list]]:
    """What an STT model would emit for `words`, one word every `step_s`: (time, events) per
    frame that emits. A word's TextPiece comes at once, its Word when the next begins; a sentence
    end closes its word and the turn (EndOfTurn)."""
    from moshi_mlx.stt.events import EndOfTurn, TextPiece, Word

    script, open_word = [], None
    for k, w in enumerate(words):
        t = k * step_s
        events = [Word(open_word[0].strip(), open_word[1], t)] if open_word else []
        script.append((t, events + [TextPiece(w, t)]))
        open_word = (w, t)
        if w.rstrip()[-1:] in ".?!":
            script.append((t + step_s / 2, [Word(w.strip(), t, t + step_s / 2), EndOfTurn(t + step_s / 2, 0.9)]))
            open_word = None
    tail = [Word(open_word[0].strip(), open_word[1], open_word[1] + step_s)] if open_word else []
    return script + [(len(words) * step_s, tail)]


class ScriptedTranscription(ScriptedEngine):
    """Same API as moshi_mlx.stt.live.LiveTranscription: live captions (events of `stt_script`,
    then the last word at stop) and files (the real header check, progress, cancel), on threads
    of its own."""

    def _run(self, options, conversation: int) -> None:
        emit = self._listener
        self._begin(options, f"transcript-{conversation}.wav", "wav")
        script = stt_script(self.backend.words)
        i = 0
        while not self._stop.wait(0.02):
            emit(LevelEvent(-20.0 - (i % 5), -200.0))
            if i < len(script) - 1:  # the last frame (the stream's end) comes at stop
                for e in script[i][1]:
                    emit(e)
            if i % 10 == 9:
                emit(StatsEvent(frames=i + 1, real_time_factor=0.25, latency_ms=700.0, step_ms=20.0,
                                dropped_frames=3, underruns=0))
            i += 1
        emit(StateEvent("stopping"))
        for _, events in script[min(i, len(script) - 1):]:  # the stream's end: the last words
            for e in events:
                emit(e)
        emit(StateEvent("stopped"))

    def transcribe_file(self, options, path, on_event, *, progress=None, cancel=None, on_start=None):
        from concurrent.futures import Future

        from moshi_mlx.stt.files import FileResult, TranscriptionCancelled, check_input

        source = check_input(path)
        self.backend.options.append(options)
        future: Future = Future()

        def job() -> None:
            future.set_running_or_notify_cancel()
            if on_start is not None:
                on_start()
            script = stt_script(self.backend.words)
            try:
                for k, (t, events) in enumerate(script):
                    if self.backend.file_gate is not None:
                        self.backend.file_gate.wait(10)  # lets a test cancel mid-way
                    if cancel is not None and cancel.is_set():
                        raise TranscriptionCancelled(f"transcription of {path} cancelled")
                    for e in events:
                        on_event(e)
                    if progress is not None:
                        progress(source.duration * (k + 1) / len(script), source.duration, 4.0)
                    time.sleep(0.06)
            except BaseException as e:  # noqa: BLE001
                future.set_exception(e)
            else:
                future.set_result(FileResult(source.path, source.duration, 0.5, 7, 2, 25))

        threading.Thread(target=job, name="scripted-file", daemon=True).start()
        return future


class FakeBackend(Backend):
    """The real hub and devices API shapes; scripted engine and device list."""

    def __init__(self, devices=None) -> None:
        self.devices = list(DEFAULT_DEVICES if devices is None else devices)
        self.calls: list[tuple[str, str]] = []
        self.options: list = []
        self.changes: list = []  # kind options changed during a conversation (ScriptedEngine.change)
        self.start_error: BaseException | None = None
        self.error_after: tuple[str, bool] | None = None
        self.error_gate: threading.Event | None = None  # set: the scripted error may come
        self.words = [" Hello", " there,", " how", " are", " you?", " Fine", " thanks."]
        self.refreshes = 0
        self.convert_fn = None
        self.installed: set[str] | None = None  # None: ask the real hub cache
        self.file_gate: threading.Event | None = None  # set: scripted file frames go on

    def is_installed(self, repo_id: str, cache_dir: str | None = None) -> bool:
        if self.installed is None:
            return super().is_installed(repo_id, cache_dir)
        return repo_id in self.installed

    def list_devices(self, refresh: bool = False) -> list:
        self.refreshes += int(refresh)
        return list(self.devices)

    def make_engine(self, listener):
        return ScriptedEngine(self, listener)

    def make_transcription(self, listener):
        return ScriptedTranscription(self, listener)

    def convert(self, source, output, bits, progress, cancel):
        if self.convert_fn is None:  # the real moshi_quantize conversion
            return super().convert(source, output, bits, progress, cancel)
        return self.convert_fn(source, output, bits, progress, cancel)


@pytest.fixture
def settings_path(tmp_path) -> str:
    return str(tmp_path / "settings.ini")


MODE_FIELDS = ("model", "input_device", "output_device")  # ModeSettings: given to Talk here


@pytest.fixture
def make_app(qtbot, settings_path, tmp_path, monkeypatch):
    """make_app(backend=None, **initial_settings) -> the Shell with a shown window. `model`,
    `input_device`, `output_device` are Talk's; the rest are AppSettings fields. The trash is a
    private one (XDG_DATA_HOME) and the recordings folder a temporary one unless given."""
    from moshi_app.application import build
    from moshi_app.settings import SettingsStore

    monkeypatch.setenv("MOSHI_MLX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    made = []

    def factory(backend=None, hotkey_factory=None, **initial):
        store = SettingsStore(settings_path)
        mode = {k: initial.pop(k) for k in MODE_FIELDS if k in initial}
        if not store.value("settings/record_dir"):
            initial.setdefault("record_dir", str(tmp_path / "recordings"))
        if initial:
            store.save(store.load().replace(**initial))
        if mode:
            store.save_mode("talk", store.load_mode("talk").replace(**mode))
        shell = build(settings_path, backend, **({"hotkey_factory": hotkey_factory} if hotkey_factory else {}))
        qtbot.addWidget(shell.window)
        shell.window.show()
        made.append(shell)
        return shell

    yield factory
    for c in made:
        c.quit()


def wait_for(qtbot, condition, timeout_ms=10_000):
    qtbot.waitUntil(condition, timeout=timeout_ms)


def talk(shell):
    """The Talk mode of a shell made by make_app."""
    return shell.mode("talk")


def open_mode(shell, mode_id: str, model: str | None = None):
    """Show a mode's page, with `model` chosen for it (which it must accept)."""
    mode = shell.mode(mode_id)
    if model:
        assert mode.set_model(model), shell.messages.history
    shell.show_page(mode_id)
    return mode
