"""Read aloud: a text (pasted, typed or opened) spoken by one of Kyutai's TTS models in a chosen
voice, the word being heard highlighted; pause, stop, and Save as WAV… (the reading just heard, if
it went to the end and nothing changed since; otherwise the whole text spoken into the file the Save
dialog confirmed, without playing it). Recorded readings (the speech and its
words) land in History. The engine is moshi_mlx.tts.session.ReadAloud, driven through the bridge
on the MLX worker like the live modes' engines; start checks, states and errors are LiveMode's."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog

from ..engine_bridge import EngineBridge
from ..messages import for_error
from .base import RUNNING
from .live_mode import LiveMode
from .read_aloud_page import ReadAloudPage

TEXT_FILTER = "Text (*.txt *.text *.md);;All files (*)"
MAX_TEXT_BYTES = 50_000_000  # a long book is ~5 MB


class ReadAloudMode(LiveMode):
    id = "read"
    label = "Read aloud"
    kinds = ("tts",)
    verbs = ("Read Aloud", "Stop Reading")
    what_for = ("Download one of Kyutai's TTS models (3.7 GB for Kyutai TTS 1.6B, English and French), "
                "import a folder, or try the demo model (random weights: it only makes noise).")
    uses_input = False
    voices_listed = Signal(str, list, str)  # model, voice names, error ("" when listed)

    def __init__(self, shell) -> None:
        self.saving: str | None = None  # the WAV the session speaks into (Save as WAV…); None: playing
        self.paused = False
        self.words_heard: list[str] = []
        self._text = ""
        self._user_stopped = self._failed = False
        # Each reading played also goes to a WAV in a folder of this app run (made here, removed at
        # quit): Save as WAV… then keeps the take that was heard. (what was read, that WAV) pairs:
        self._heard_dir: str | None = None
        self._heard_count = 0
        self._reading: tuple[tuple, str] | None = None  # the one under way
        self._heard: tuple[tuple, str] | None = None  # the last one read to the end
        super().__init__(shell)
        p = self.page
        p.pause_button.clicked.connect(self.toggle_pause)
        p.open_button.clicked.connect(lambda: self.open_text())
        p.save_button.clicked.connect(lambda: self.save_wav())
        p.voice_combo.currentTextChanged.connect(lambda text: self.set_option("voice", text.strip()))
        p.voice2_combo.currentTextChanged.connect(lambda text: self.set_option("voice2", text.strip()))
        p.voices_button.clicked.connect(lambda: self.list_online_voices())
        self.voices_listed.connect(self._voices_listed)

    def build_page(self) -> ReadAloudPage:
        return ReadAloudPage(self.model_picker, self.device_picker)

    def make_bridge(self) -> EngineBridge:
        return EngineBridge(self.backend, self, make_engine=self.backend.make_read_aloud,
                            make_options=self.backend.make_read_aloud_options)

    # -- voices ----------------------------------------------------------------------------------
    def show_model(self) -> None:
        super().show_model()
        self.fill_voices()

    def set_model(self, spec: str) -> bool:
        changed = spec != self.prefs.model
        if not super().set_model(spec):
            return False
        if changed:
            self.set_option("voice", "")
            self.set_option("voice2", "")
            self.fill_voices()
        return True

    def fill_voices(self, names: list[str] | None = None) -> None:
        """The model's default voice first, then its own and the downloaded ones (or `names`); the
        choice kept."""
        from moshi_mlx.errors import MoshiError

        combo, spec = self.page.voice_combo, self.prefs.model
        if names is None:
            names = []
            if spec and not self.kind_problem(spec):
                try:
                    _default, names = self.backend.tts_voices(spec, self.shell.settings.cache_dir or None)
                except (MoshiError, OSError):
                    names = []  # an unreadable folder: the engine says so at Start
        chosen = self.option("voice", "")
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        combo.setEditText(chosen or (names[0] if names else ""))
        combo.blockSignals(False)
        second = self.page.voice2_combo  # none by default: one voice
        second.blockSignals(True)
        second.clear()
        second.addItems(["", *names])
        second.setEditText(self.option("voice2", ""))
        second.blockSignals(False)

    def list_online_voices(self) -> threading.Thread | None:
        """List kyutai/tts-voices' voices for this model in the background (a network request);
        the list fills the picker when it comes."""
        spec = self.prefs.model
        if not spec or self.kind_problem(spec):
            return None
        self.page.voices_button.setEnabled(False)
        self.show_state("Listing the voices of kyutai/tts-voices…")
        cache_dir = self.shell.settings.cache_dir or None

        def run() -> None:
            try:
                self.voices_listed.emit(spec, self.backend.tts_voices(spec, cache_dir, remote=True)[1], "")
            except Exception as e:  # noqa: BLE001 - offline, hub errors: said in the status line
                self.voices_listed.emit(spec, [], str(e) or type(e).__name__)

        thread = threading.Thread(target=run, name="voice-listing", daemon=True)
        thread.start()
        return thread

    def _voices_listed(self, spec: str, names: list, error: str) -> None:
        self.page.voices_button.setEnabled(not self.running)
        if error:
            self.show_state(f"The voices could not be listed: {error}")
        elif spec == self.prefs.model and not self.running:
            self.fill_voices(names)
            self.show_state(f"{len(names)} voices")

    # -- text ------------------------------------------------------------------------------------
    def open_text(self, path: str | None = None) -> bool:
        """Put a text file's contents in the text box (asked when `path` is None)."""
        if self.running:
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.page, "Open a text to read", "", TEXT_FILTER)
            if not path:
                return False
        try:
            if Path(path).stat().st_size > MAX_TEXT_BYTES:
                raise ValueError(f"larger than {MAX_TEXT_BYTES // 1_000_000} MB")
            text = Path(path).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            self.messages.show(for_error("open_text", f"{path} is not UTF-8 text."))
            return False
        except (OSError, ValueError) as e:
            self.messages.show(for_error("open_text", f"{path}: {getattr(e, 'strerror', None) or e}"))
            return False
        self.page.text_edit.setPlainText(text)
        self.show_state(f"Opened {Path(path).name}")
        return True

    # -- reading ---------------------------------------------------------------------------------
    def start(self, confirmed: bool = False) -> bool:
        if self.running:
            return False
        text = self.page.text_edit.toPlainText()
        if not text.strip():
            self.messages.show(for_error("read_text", ""))
            return False
        self._text = text
        return super().start(confirmed)

    def save_wav(self, path: str | None = None, confirmed: bool = False) -> bool:
        """Speak the whole text into a WAV file, without playing it: `path`, or the one the Save
        dialog confirms (a name it did not ask about is never replaced)."""
        if self.running:
            return False
        if not self.page.text_edit.toPlainText().strip():
            self.messages.show(for_error("read_text", ""))
            return False
        if path is None:
            folder = Path(self.shell.settings.record_dir).expanduser()
            path, _ = QFileDialog.getSaveFileName(self.page, "Save the speech as WAV", str(folder / "reading.wav"),
                                                  "WAV audio (*.wav)")
            if not path:
                return False
            if Path(path).suffix.lower() != ".wav":
                path += ".wav"
                if Path(path).exists():
                    self.messages.show(for_error("export", f"{path} already exists: choose another name."))
                    return False
        if self._heard and self._heard[0] == self._what_is_read():
            return self._save_heard(self._heard[1], path)
        self.saving = path
        if not self.start(confirmed):
            self.saving = None
            return False
        return True

    def _voices(self) -> list[str]:
        """The voice, and a dialogue's second one when chosen."""
        p = self.page
        return [v for v in (p.voice_combo.currentText().strip(), p.voice2_combo.currentText().strip()) if v]

    def _what_is_read(self) -> tuple:
        return self.prefs.model, tuple(self._voices()), self.page.text_edit.toPlainText()

    def _save_heard(self, heard: str, path: str) -> bool:
        """Copy the reading just heard to `path` (through a temporary sibling, then a rename)."""
        part = Path(path).with_name(f".{Path(path).name}.{os.getpid()}.part")
        try:
            shutil.copyfile(heard, part)
            os.replace(part, path)
        except OSError as e:
            part.unlink(missing_ok=True)
            self.messages.show(for_error("export", f"{path}: {e.strerror or e}"))
            return False
        self.show_state(f"Saved {Path(path).name} (the reading you heard)")
        return True

    def _next_heard_path(self) -> str:
        if self._heard_dir is None:
            self._heard_dir = tempfile.mkdtemp(prefix="moshi-read-aloud-")
        self._heard_count += 1
        return str(Path(self._heard_dir) / f"heard-{self._heard_count}.wav")

    def _keep_heard(self, reading: tuple[tuple, str] | None, complete: bool) -> None:
        if reading is None:
            return
        if complete and Path(reading[1]).exists():
            old, self._heard = self._heard, reading
            reading = old
        if reading is not None:
            Path(reading[1]).unlink(missing_ok=True)

    def shutdown(self) -> None:
        super().shutdown()
        if self._heard_dir is not None:  # made by this run (mkdtemp): ours to remove
            shutil.rmtree(self._heard_dir, ignore_errors=True)

    def stop(self) -> None:
        if self.running:
            self._user_stopped = True
        super().stop()

    def toggle_pause(self) -> None:
        if self.state != RUNNING:
            return
        self.paused = not self.paused
        paused = self.paused
        self.bridge.call(lambda engine: engine.pause() if paused else engine.resume())
        self.page.set_paused(paused)
        self.show_state("Paused" if paused else self.running_text())

    def engine_options(self, model: str, record_dir: str | None) -> dict:
        s = self.shell.settings
        common = dict(model=model, voices=self._voices(), text=self._text,
                      seed=s.seed, cache_dir=s.cache_dir or None)
        if self.saving:
            return dict(common, output_device=None, wav_path=self.saving, keep_stopped_wav=False)
        self._reading = (self._what_is_read(), self._next_heard_path())
        return dict(common, output_device=self.prefs.output_device or "default", record_dir=record_dir,
                    wav_path=self._reading[1], keep_stopped_wav=False)

    def session_starting(self) -> None:
        self.paused = self._user_stopped = self._failed = False
        self.words_heard = []
        self.page.begin_reading(self._text)
        self.page.set_paused(False)

    def running_text(self) -> str:
        if self.saving:
            return f"Saving {Path(self.saving).name}…"
        return f"Reading · {self.device_picker.output_combo.currentText()}"

    def session_event(self, event) -> None:
        from moshi_mlx.tts.session import SpeechStatsEvent, WordEvent

        if isinstance(event, WordEvent):
            self.words_heard.append(event.word)
            self.page.highlight(*event.span)
        elif isinstance(event, SpeechStatsEvent):
            self.page.set_stats(event)

    def on_event(self, event) -> None:
        from moshi_mlx.engine.events import ErrorEvent

        if isinstance(event, ErrorEvent):
            self._failed = True
        super().on_event(event)

    def on_start_failed(self, kind: str, message: str) -> None:
        self._failed = True
        super().on_start_failed(kind, message)

    def on_stopped(self, paths: list) -> None:
        saved, self.saving = self.saving, None
        reading, self._reading = self._reading, None
        self._keep_heard(reading, complete=not (self._failed or self._user_stopped))
        super().on_stopped(paths)
        self.page.clear_highlight()
        if saved and self._failed:
            self.show_state("Not saved")
        elif saved and self._user_stopped:
            self.show_state("Saving stopped: nothing written")
        elif saved:
            self.show_state(f"Saved {Path(saved).name}")
