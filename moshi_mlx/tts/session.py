"""Read aloud in the background: the engine behind the app's Read aloud mode (no Qt here).

    session = ReadAloud(listener)                    # listener(event), called from the worker thread
    session.start(ReadAloudOptions(model="kyutai/tts-1.6b-en_fr", voices=["vctk/p225_023"],
                                   wav_path="reading.wav"))   # returns at once
    session.push_text(text); session.end_of_text()   # any thread, any time (or flush() at pauses)
    session.pause(); session.resume()                # playback; synthesis waits while the buffer is full
    session.stop()                                   # blocking, idempotent

The MLX worker thread (engine/mlx_worker.py) loads the model (kept for the next session while the
same model is asked for), resolves the voices (downloading them), compiles, then runs the
synthesizer: each frame goes to the output device (`output_device`; None = do not play) and/or the
WAV file. Events (engine/events.py plus WordEvent / SpeechStatsEvent): StateEvent loading, ready,
running, stopping, stopped; ProgressEvent (download bytes, load, compile); WordEvent when a word's
audio reaches the speaker (or is written, without a device); SpeechStatsEvent about once a second
and at the end; ErrorEvent (model_load, download, voice, device_lost, internal). The WAV is written
under a temporary name and renamed when the session ends normally or is stopped (it then holds what
was spoken, unless `keep_stopped_wav` is off: then a stopped session leaves nothing); on an error
it is removed. With `record_dir`, the reading is also kept for the app's History (record.py:
`reading-<time>.wav`, its words as a timestamped transcript, and the sidecar); `recording_paths`
names those files. Pausing holds playback and, without a device, the synthesis itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import FRAME_RATE, FRAME_SIZE, SAMPLE_RATE
from ..engine.events import ProgressEvent, StateEvent
from ..engine.session_base import BackgroundSession
from .synth import SpokenWord, Synthesizer, TtsSettings


@dataclass(frozen=True)
class WordEvent:
    """A word is being heard (for highlighting): its text, its characters in all the text pushed,
    its speaker (0, 1) and the audio time at which it starts."""

    word: str
    index: int
    span: tuple[int, int]
    speaker: int
    time_s: float


@dataclass(frozen=True)
class SpeechStatsEvent:
    frames: int  # audio frames made (80 ms each)
    real_time_factor: float  # synthesis time per frame / 80 ms (< 1: faster than it is spoken)
    first_audio_s: float | None  # from the first text to the first audio frame
    underruns: int  # playback blocks played as silence because synthesis was behind


@dataclass
class ReadAloudOptions:
    model: str = "kyutai/tts-1.6b-en_fr"  # TTS model: folder, HF repo id, or "demo-tts"
    voices: list[str] = field(default_factory=list)  # names or files; [] = the model's default
    settings: TtsSettings = TtsSettings()
    output_device: int | str | None = "default"  # "default": the system's; None: do not play
    wav_path: str | None = None  # also save the speech here
    keep_stopped_wav: bool = True  # a stopped session's WAV holds what was spoken (False: removed)
    text: str | None = None  # all the text to read (end of text included; with two voices each
    # non-empty line is a turn of the next one); None: push_text()
    record_dir: str | None = None  # keep the reading for History (WAV, transcript, sidecar)
    codec_backend: str = "mlx"
    cache_dir: str | None = None


class ReadAloud(BackgroundSession):
    """start(ReadAloudOptions) / stop() / running (engine/session_base.py); text pushed any time."""

    busy_message = "a reading is already running: stop() it first"
    device_error_kind = "device_lost"  # the output device

    def __init__(self, listener: Callable[[object], None]):
        super().__init__(listener)
        self._model_key = self._model = None
        self._synth: Synthesizer | None = None
        self._player = None
        self._files = self._recorder = None  # the WAV being written, the History recording
        self._queued: list[tuple] = []  # text pushed before the synthesizer exists
        self._playing = threading.Event()  # cleared while paused
        self._playing.set()
        self.wav_path: Path | None = None  # the saved file once the session ended
        self.recording_paths: dict[str, Path] | None = None  # the History recording (record_dir)

    # -- control (any thread) -----------------------------------------------------------------
    def _prepare(self, options: ReadAloudOptions) -> None:
        self._playing.set()
        self._synth, self.wav_path, self.recording_paths = None, None, None
        if options.text is not None:  # otherwise text pushed before start() is kept for it
            from .text_source import text_pushes

            # two voices or more: a dialogue, each non-empty line a turn of the next voice
            self._queued = [*text_pushes(options.text, len(options.voices) > 1), ("end_of_text",)]
        if options.wav_path:
            from .outputs import check_output_path

            check_output_path(options.wav_path, "WAV file")

    def push_text(self, text: str, speaker: int | None = None) -> None:
        self._forward(("push_text", text, speaker))

    def flush(self) -> None:
        self._forward(("flush",))

    def end_of_text(self) -> None:
        self._forward(("end_of_text",))

    def _forward(self, call: tuple) -> None:
        with self._lock:
            if self._synth is None:
                self._queued.append(call)
            else:
                getattr(self._synth, call[0])(*call[1:])

    def pause(self) -> None:
        self._playing.clear()
        if self._player is not None:
            self._player.paused = True

    def resume(self) -> None:
        self._playing.set()
        if self._player is not None:
            self._player.paused = False

    def _on_stop(self) -> None:
        """stop(): the WAV keeps what was spoken."""
        self._playing.set()
        with self._lock:
            if self._synth is not None:
                self._synth.cancel()

    # -- worker -------------------------------------------------------------------------------
    def _run(self, options: ReadAloudOptions) -> None:
        self._emit(StateEvent("loading", options.model))
        model = self._load(options)
        synth = self._make_synth(model, options)
        if self._stop.is_set():
            return
        self._emit(StateEvent("ready", model.files.name))
        self._files, wav = self._open_wav(options)
        self._recorder = self._open_recorder(options, model)
        self._player = self._open_player(options)
        with self._lock:  # text that came early goes in now, in order
            self._synth = synth
            for call in self._queued:
                getattr(synth, call[0])(*call[1:])
            self._queued = []
        self._emit(StateEvent("running", model.files.name))
        self._read(synth, wav, self._recorder)
        self._emit(StateEvent("stopping"))
        if wav is not None:
            wav.close()
            if options.keep_stopped_wav or not self._stop.is_set():
                self._files.commit()
                self.wav_path = Path(options.wav_path)

    def _cleanup(self) -> None:
        files, recorder, player = self._files, self._recorder, self._player
        self._files = self._recorder = self._player = None
        if files is not None:
            files.abort()  # nothing if committed
        if recorder is not None:
            recorder.close()
        if player is not None:
            player.close()
        with self._lock:
            self._synth, self._queued = None, []

    def _load(self, options: ReadAloudOptions):
        from ..engine.loader import load_model
        from ..hub import resolve_model
        from ..kinds import check_kind

        key = (options.model, options.codec_backend, options.cache_dir)
        if key != self._model_key:
            self._model_key = self._model = None
            files = resolve_model(options.model, cache_dir=options.cache_dir,
                                  progress=lambda d, t: self._emit(ProgressEvent("download", d, t, "bytes")),
                                  cancel=self._stop)
            check_kind(files.config, ("tts",), files.name, "Read aloud")
            self._model = load_model(files, options.codec_backend,
                                     progress=lambda job, d, t: self._emit(ProgressEvent(job, d, t)))
            self._model_key = key
        return self._model

    def _make_synth(self, model, options: ReadAloudOptions) -> Synthesizer:
        from .info import TtsInfo
        from .voice_repo import default_voice, resolve_voice

        info = TtsInfo.from_model(model, used_by="Read aloud")
        voices = [resolve_voice(v, info, model, options.cache_dir, cancel=self._stop,
                                progress=lambda d, t: self._emit(ProgressEvent("download", d, t, "bytes")))
                  for v in (options.voices or [default_voice(model)])]
        synth = Synthesizer(model, voices, options.settings)
        self._emit(ProgressEvent("compile", 0, 1))
        synth.gen.warmup()  # once per model and settings: compiled frames are kept on the model
        self._emit(ProgressEvent("compile", 1, 1))
        return synth

    def _open_wav(self, options: ReadAloudOptions):
        if not options.wav_path:
            return None, None
        from .outputs import OutputSet, WavStream, check_output_path

        files = OutputSet({"wav": check_output_path(options.wav_path, "WAV file")})
        return files, WavStream(files.temps["wav"])

    def _open_recorder(self, options: ReadAloudOptions, model):
        if not options.record_dir:
            return None
        from ..kinds import kind_of
        from .record import ReadingRecorder

        files = model.files
        kind = kind_of(files.config)
        recorder = ReadingRecorder(options.record_dir, files.name, "demo model: random weights, noise"
                                   if files.is_demo else "", meta=dict(mode=kind.mode, kind=kind.name,
                                                                       model=options.model, model_name=files.name))
        self.recording_paths = dict(recorder.paths)
        return recorder

    def _open_player(self, options: ReadAloudOptions):
        if options.output_device is None:
            return None
        from .player import Player

        player = Player(None if options.output_device == "default" else options.output_device)
        player.start()
        return player

    def _read(self, synth: Synthesizer, wav, recorder) -> None:
        player, pending = self._player, []
        frames, next_stats = 0, time.monotonic() + 1.0
        for frame in synth.frames():
            while player is None and not self._playing.wait(0.05) and not self._stop.is_set():
                pass  # paused without a device: the synthesis waits
            if wav is not None:
                wav.write(frame.pcm)
            if recorder is not None:
                recorder.write_audio(frame.pcm)
                for w in frame.started:
                    recorder.word(w)
            pending += frame.started
            if player is not None:
                player.write(frame.pcm, self._stop)
            frames += 1
            self._words_heard(pending, player, frames)
            if time.monotonic() >= next_stats:
                next_stats += 1.0
                self._stats(synth, frames, player)
        if player is not None:
            while pending and not self._stop.is_set():  # the last words, as they are played
                self._words_heard(pending, player, frames)
                time.sleep(0.02)
            player.drain(self._stop)
        self._words_heard(pending, None, frames)
        self._stats(synth, frames, player)

    def _words_heard(self, pending: list[SpokenWord], player, frames: int) -> None:
        heard = frames * FRAME_SIZE if player is None else player.played_samples * SAMPLE_RATE / player.rate
        while pending and pending[0].frame * FRAME_SIZE <= heard:
            w = pending.pop(0)
            self._emit(WordEvent(w.text, w.index, w.span, w.speaker, w.frame / FRAME_RATE))

    def _stats(self, synth, frames: int, player) -> None:
        self._emit(SpeechStatsEvent(frames, synth.compute_s / max(frames, 1) * FRAME_RATE,
                                    synth.first_audio_s, player.underruns if player else 0))
