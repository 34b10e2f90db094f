"""Live transcription from the microphone: the engine behind `listen` and the app's Transcribe mode.

`LiveTranscription.start(options)` returns at once; the MLX worker thread loads the model (kept for
the next session while model and codec are the same), opens the microphone (no output device) and
transcribes frame by frame until `stop()`, which finishes the stream: the trailing silence makes
the model write its last words before "stopped". Everything arrives as events from the worker
thread: StateEvent, ProgressEvent, ErrorEvent, LevelEvent, StatsEvent (engine/events.py) and the
transcription's TextPiece, Word and EndOfTurn (stt/events.py). No Qt, no terminal here.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable


from ..engine import mlx_worker
from ..engine.live_engine import FRAME_MS, LiveEngine, LiveStats, db
from ..engine.events import LevelEvent, ProgressEvent, StateEvent, StatsEvent
from .loading import DEFAULT_MODEL


@dataclass
class ListenOptions:
    model: str = DEFAULT_MODEL  # local folder, HF repo id, or "demo-stt"
    input_device: int | str | None = None  # None = system default
    cache_dir: str | None = None
    codec_backend: str = "mlx"
    record_dir: str | None = None  # keep the audio and the transcript here
    max_lag_frames: int = 25  # input waiting beyond this (2 s) is dropped rather than lagging more
    temperature: float | None = None  # text sampling; None: the model's lm_gen_config
    top_k: int | None = None
    seed: int | None = None
    used_by: str = "`listen`"  # named in the refusal of a model of another kind


class LiveTranscription(LiveEngine):
    """start(ListenOptions) / stop() / running / recording_paths, events to the listener (see above):
    the live engines' lifecycle (engine/live_engine.py), with a transcriber and the microphone alone."""

    busy_message = "a transcription is already running: stop() it first"
    stop_timeout = 60.0  # stop() lets the model finish its last words

    def __init__(self, listener: Callable[[object], None]):
        super().__init__(listener)
        self._model_key = self._model = self._transcriber = self._sampling = None

    def transcribe_file(self, options: ListenOptions, path, on_event: Callable[[object], None], *,
                        progress: Callable[[float, float, float], None] | None = None,
                        cancel: threading.Event | None = None,
                        on_start: Callable[[], None] | None = None) -> Future:
        """Transcribe an audio file with this engine's model (loaded, or the one a live session
        keeps: one model in memory) on the MLX worker, after whatever runs there (a live session:
        one after the other, never side by side). The file's header is checked now (a MoshiError
        naming it); `on_start()` when the worker takes the job; loading progress reaches the
        listener as ProgressEvents; the transcription's events go to `on_event`, and
        `progress(done_s, total_s, speed)` (stt/files.py). The Future holds the FileResult or the
        exception: TranscriptionCancelled once `cancel` is set, ModelKindError, ..."""
        from .files import TranscriptionCancelled, check_input, transcribe_file

        source = check_input(path)
        cancel = cancel if cancel is not None else threading.Event()

        def job():
            if on_start is not None:
                on_start()
            self._load(options, cancel)
            if cancel.is_set():
                raise TranscriptionCancelled(f"transcription of {source.path} cancelled")
            return transcribe_file(self._transcriber, source, on_event, progress, cancel)

        return mlx_worker.submit(job)

    def _load(self, options: ListenOptions, cancel: threading.Event | None = None):
        """The model, with its warmed-up transcriber; both reused while the options allow.
        `cancel` stops a download (default: the live session's stop)."""
        from .loading import load_stt_model
        from .transcriber import Transcriber

        key = (options.model, options.cache_dir, options.codec_backend)
        sampling = (options.temperature, options.top_k, options.seed)
        if key != self._model_key:
            self._model_key = self._model = self._transcriber = None  # free the old model first
            self._model = load_stt_model(
                options.model, options.used_by, cache_dir=options.cache_dir,
                codec_backend=options.codec_backend, cancel=self._stop if cancel is None else cancel,
                progress=lambda job, d, t: self._emit(ProgressEvent(job, d, t)),
                download_progress=lambda d, t: self._emit(ProgressEvent("download", d, t, "bytes")))
            self._model_key = key
        if self._transcriber is None or self._sampling != sampling:
            self._transcriber = None
            tr = Transcriber(self._model, temperature=options.temperature, top_k=options.top_k,
                             seed=options.seed)
            self._emit(ProgressEvent("warm-up", 0, 1))
            tr.warmup()
            self._emit(ProgressEvent("warm-up", 1, 1))
            self._transcriber, self._sampling = tr, sampling
        return self._model

    def _check_devices(self, options: ListenOptions) -> None:
        """The microphone alone is checked before the model loads (no output device is used)."""
        from ..engine.live import LiveAudio

        LiveAudio(options.input_device, max_lag_frames=options.max_lag_frames, output=False)

    def _open_session(self, model, options: ListenOptions):
        self._transcriber.reset()
        return _Session(self._transcriber, options, self._emit, self._stop)


class _Session:
    """One live stream: microphone, transcriber, optional recorder."""

    def __init__(self, transcriber, options: ListenOptions, emit, stop: threading.Event):
        from ..engine.live import LiveAudio

        self.transcriber, self.emit, self.stop = transcriber, emit, stop
        self.audio = LiveAudio(options.input_device, max_lag_frames=options.max_lag_frames, output=False)
        self.recorder = None
        self.recording_paths = None
        if options.record_dir:
            from .record import TranscriptRecorder

            from ..kinds import kind_of

            files = transcriber.model.files
            note = "demo model: random weights, random words" if files.is_demo else ""
            kind = kind_of(files.config)
            self.recorder = TranscriptRecorder(options.record_dir, files.name, note, meta=dict(
                mode=kind.mode, kind=kind.name, model=options.model, model_name=files.name))
            self.recording_paths = dict(self.recorder.paths)

    def _send(self, events) -> None:
        for e in events:
            if self.recorder is not None:
                self.recorder.event(e)
            self.emit(e)

    def run(self) -> None:
        audio, tr, emit = self.audio, self.transcriber, self.emit
        audio.start()
        heads = "end-of-turn detection on" if tr.has_end_of_turn else "no end-of-turn heads (paragraphs at pauses)"
        emit(StateEvent("running", f"input {audio.input.name!r} at {audio.in_rate} Hz, {heads}"))
        stats = LiveStats()
        from ..engine.live import microphone_frames

        for mic in microphone_frames(audio, self.stop, emit, "transcription", self.recorder is not None):
            t0 = time.perf_counter()
            self._send(tr.push(mic))
            if self.recorder is not None:
                self.recorder.write_audio(mic)
            stats.add((time.perf_counter() - t0) * 1e3)
            emit(LevelEvent(db(mic), -200.0))
            if stats.due():
                emit(StatsEvent(frames=tr.frames, real_time_factor=stats.real_time_factor,
                                latency_ms=(audio.input_latency_s * 1e3 + FRAME_MS + audio.lag_frames * FRAME_MS
                                            + stats.mean_ms + tr.settings.delay_s * 1e3),
                                step_ms=stats.median_ms, dropped_frames=audio.dropped_frames,
                                underruns=0))
        self.audio.close()
        emit(StateEvent("stopping"))
        self._send(tr.flush())  # the model's last words (its delay + 1 s of silence)

    def close(self) -> None:
        self.audio.close()
        if self.recorder is not None:
            self.recorder.close()
