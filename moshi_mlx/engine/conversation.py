"""The conversation engine behind `chat` and the desktop app: start, stop, events.

`ConversationEngine.start()` returns at once; the MLX worker thread loads the model (kept for the next
conversation when model and codec backend are the same), opens the devices and runs frames until
`stop()`. Everything the caller learns arrives as events (moshi_mlx/engine/events.py), called from
the worker thread. No Qt and no terminal here; MLX runs only on the worker thread.
"""

from __future__ import annotations

import collections
import math
from concurrent import futures
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import FRAME_RATE
from ..errors import AudioDeviceError, ModelNotAvailableError, MoshiError, PersonaError
from ..hub import DownloadCancelled
from ..kinds import ModelKindError, check_kind, kind_of
from . import mlx_worker
from .core import FrameEngine, Sampling
from .session_base import error_event  # noqa: F401  (one map for every engine)
from .events import ErrorEvent, Event, LevelEvent, ProgressEvent, StateEvent, StatsEvent, TextEvent

FRAME_MS = 1000.0 / FRAME_RATE
WARMUP_FRAMES = 3
KINDS_ACCEPTED = ("moshi", "personaplex")  # what a conversation runs by default (moshi_mlx/kinds.py)


@dataclass
class EngineOptions:
    model: str = "kyutai/moshiko-mlx-q4"  # local folder, HF repo id, or "demo"
    input_device: int | str | None = None  # None = system default
    output_device: int | str | None = None
    aec: bool | None = None  # None = auto: on when both devices are built-in
    text_temperature: float = 0.7
    text_top_k: int = 25
    audio_temperature: float = 0.8
    audio_top_k: int = 250
    seed: int | None = None
    record_dir: str | None = None  # None = do not record
    codec_backend: str = "mlx"  # or "rustymimi"
    max_lag_frames: int = 3  # drop input frames when further behind than this
    cache_dir: str | None = None  # HF cache override
    kind_options: dict | None = None  # the model kind's own options (engine/setup.py), e.g. a persona
    kinds: tuple[str, ...] = KINDS_ACCEPTED  # model kinds this session runs (e.g. ("hibiki",) to translate)
    used_by: str = "a conversation (chat, the app's Talk mode)"  # who refuses the other kinds

    @property
    def sampling(self) -> Sampling:
        return Sampling(self.text_temperature, self.text_top_k, self.audio_temperature,
                        self.audio_top_k, self.seed)


def db(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float32)))) if len(x) else 0.0
    return 20.0 * math.log10(rms) if rms > 1e-10 else -200.0


class ModelCache:
    """The one loaded model, kept while the same model and codec backend are asked for."""

    def __init__(self):
        self.key = None
        self.model = None

    def get(self, options: EngineOptions, emit: Callable[[Event], None], cancel: threading.Event):
        from ..hub import resolve_model
        from .loader import load_model

        key = (options.model, options.codec_backend, options.cache_dir)
        if key == self.key:
            check_kind(self.model.files.config, options.kinds, self.model.files.name, options.used_by)
            return self.model
        self.key = self.model = None  # free the old model before loading the next
        files = resolve_model(options.model, cache_dir=options.cache_dir, allow_download=True,
                              progress=lambda d, t: emit(ProgressEvent("download", d, t, "bytes")),
                              cancel=cancel)
        check_kind(files.config, options.kinds, files.name, options.used_by)
        model = load_model(files, options.codec_backend,
                           progress=lambda job, d, t: emit(ProgressEvent(job, d, t)))
        bad_options = warm_up(model, options, emit)
        self.key, self.model = key, model
        if bad_options is not None:  # the model is loaded, warm and kept: only the persona was wrong
            raise bad_options
        return model


def warm_up(model, options: EngineOptions, emit: Callable[[Event], None]) -> MoshiError | None:
    """Compile the model's frame functions with a few frames of silence. Kind options that cannot
    be used (an unknown voice, a role too long for the context) must not cost the loaded model: the
    warm-up then runs with the kind's defaults and their error is returned, to be raised once the
    model is kept."""
    try:
        warm = FrameEngine(model, options.sampling, options.kind_options)
        bad = None
    except MoshiError as e:
        if not options.kind_options:
            raise
        warm, bad = FrameEngine(model, options.sampling), e
    silence = np.zeros(model.codec.frame_size, np.float32)
    for i in range(WARMUP_FRAMES):
        warm.step(silence)
        emit(ProgressEvent("warm-up", i + 1, WARMUP_FRAMES, "frames"))
    return bad


class ConversationEngine:
    def __init__(self, listener: Callable[[Event], None]) -> None:
        self._listener = listener
        self._job: futures.Future | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._models = ModelCache()
        self._conversation = 0
        self._recording_paths: dict[str, Path] | None = None
        self._session: _LiveSession | None = None  # the current one (tests look inside)

    def start(self, options: EngineOptions) -> None:
        """Start a conversation in the background; returns at once. Raises RuntimeError if one runs.
        The work runs on the process-wide MLX worker thread (moshi_mlx/engine/mlx_worker.py)."""
        with self._lock:
            if self.running:
                raise RuntimeError("a conversation is already running: stop() it first")
            self._stop.clear()
            self._job = mlx_worker.submit(lambda: self._run(options))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the conversation and wait for the worker to finish (files closed). Idempotent."""
        self._stop.set()
        job = self._job
        if job is not None and not mlx_worker.on_worker_thread():
            futures.wait([job], timeout)

    def run_on_model(self, options: EngineOptions, fn: Callable) -> futures.Future:
        """Run `fn(model)` on the MLX worker with the LoadedModel of `options`, loaded (with its
        progress events) and kept for the next conversation exactly as `start` does: a voice
        preview, a voice made from a recording, or the model handed to a server, without a second
        copy in memory. Between conversations only (RuntimeError while one runs). The Future
        holds fn's result or the exception."""
        with self._lock:
            if self.running:
                raise RuntimeError("a conversation is running: stop() it first")
            cancel = threading.Event()
            return mlx_worker.submit(lambda: fn(self._models.get(options, self._emit, cancel)))

    @property
    def running(self) -> bool:
        return self._job is not None and not self._job.done()

    @property
    def models(self) -> ModelCache:
        """The model kept between conversations; a ChatServer given it serves the same copy."""
        return self._models

    @property
    def recording_paths(self) -> dict[str, Path] | None:
        return self._recording_paths

    def _emit(self, event: Event) -> None:
        try:
            self._listener(event)
        except Exception:  # a broken listener must not kill the conversation
            traceback.print_exc()

    def _run(self, options: EngineOptions) -> None:
        session = None
        try:
            if self._stop.is_set():  # stopped before the worker got to it
                return
            self._emit(StateEvent("loading", options.model))
            self._check_devices(options)
            model = self._load(options)
            if self._stop.is_set():
                return
            self._emit(StateEvent("ready", model.files.name))
            session = self._session = self._open_session(model, options)
            self._recording_paths = session.recording_paths
            session.run()
        except Exception as e:
            event = error_event(e, options.model)
            if event is not None:
                self._emit(event)
        finally:
            if session is not None:
                session.close()
            self._emit(StateEvent("stopped"))


    def _load(self, options: EngineOptions):
        """The LoadedModel for `options` (kept for the next session while the same one is asked for)."""
        return self._models.get(options, self._emit, self._stop)

    def _open_session(self, model, options: EngineOptions):
        """The session to run: has `recording_paths`, `run()` (until stop) and `close()`."""
        self._conversation += 1
        return _LiveSession(model, options, self._conversation, self._emit, self._stop)

    def _check_devices(self, options) -> None:
        """A missing or unusable device is reported before the model is loaded (DeviceError)."""
        from .live import LiveAudio

        LiveAudio(options.input_device, options.output_device, options.max_lag_frames)


class _LiveSession:
    """One conversation: devices, AEC, recorder and the frame loop."""

    def __init__(self, model, options: EngineOptions, conversation: int, emit, stop: threading.Event):
        from .live import LiveAudio

        self.emit, self.stop, self.conversation = emit, stop, conversation
        self.options = options
        self.core = FrameEngine(model, options.sampling, options.kind_options)
        self.audio = LiveAudio(options.input_device, options.output_device, options.max_lag_frames)
        self.aec = self._make_aec(options.aec)
        self.recorder = None
        self.recording_paths = None
        if options.record_dir:
            from .recorder import Recorder

            note = "demo model: random weights, the audio is noise" if model.files.is_demo else ""
            kind = kind_of(model.files.config)
            # files named after the mode beyond Talk: translate-<time>.wav (source, translation)
            names = {} if kind.mode == "talk" else dict(name=kind.mode, title=f"{kind.label.capitalize()}, {model.files.name},")
            self.recorder = Recorder(options.record_dir, note=note, meta=dict(
                mode=kind.mode, kind=kind.name, model=options.model, model_name=model.files.name), **names)
            self.recording_paths = dict(self.recorder.paths)

    def _make_aec(self, wanted: bool | None):
        if wanted is None:
            wanted = self.audio.input.is_builtin and self.audio.output.is_builtin
        if not wanted:
            return None
        try:
            from .aec import EchoCanceller
        except ImportError as e:
            self.emit(ErrorEvent("internal", f"echo cancellation is not available ({e}); "
                                 "continuing without it", fatal=False))
            return None
        return EchoCanceller(sample_rate=24000, frame_size=self.core.model.codec.frame_size)

    def run(self) -> None:
        audio, core, emit = self.audio, self.core, self.emit
        audio.start()
        emit(StateEvent("running", f"input {audio.input.name!r} at {audio.in_rate} Hz, output "
                        f"{audio.output.name!r} at {audio.out_rate} Hz, echo cancellation "
                        f"{'on' if self.aec else 'off'}"))
        far = np.zeros(core.model.codec.frame_size, np.float32)
        if self.aec is not None:
            self.aec.set_delay_ms((audio.input_latency_s + audio.output_latency_s) * 1e3)
        step_ms = collections.deque(maxlen=int(FRAME_RATE * 5))
        latency = collections.deque(maxlen=int(FRAME_RATE))
        aec_ms = 0.0
        next_stats = time.monotonic() + 1.0
        frame_index = 0
        from .live import microphone_frames

        for mic in microphone_frames(audio, self.stop, emit, "conversation", self.recorder is not None):
            t0 = time.perf_counter()
            lag_after = audio.lag_frames
            near = mic
            if self.aec is not None:
                near = self.aec.process(mic, far)
                aec_ms = float(self.aec.cpu_ms_per_frame)
            result = core.step(near)
            audio.write_frame(result.pcm)
            far = result.pcm
            elapsed_ms = (time.perf_counter() - t0) * 1e3
            step_ms.append(elapsed_ms)
            latency.append(audio.input_latency_s * 1e3 + FRAME_MS + lag_after * FRAME_MS + elapsed_ms
                           + (audio.queued_output_s + audio.output_latency_s) * 1e3)
            time_s = frame_index / FRAME_RATE
            if result.text:
                emit(TextEvent(result.text, time_s, self.conversation))
            if self.recorder is not None:
                self.recorder.write_frame(mic, result.pcm)
                self.recorder.write_text(result.text, time_s)
            emit(LevelEvent(db(mic), db(result.pcm)))
            frame_index += 1
            if time.monotonic() >= next_stats:
                next_stats += 1.0
                if self.aec is not None:
                    self.aec.set_delay_ms((audio.input_latency_s + audio.output_latency_s
                                           + audio.queued_output_s) * 1e3)
                emit(StatsEvent(frames=frame_index,
                                real_time_factor=float(np.mean(step_ms)) / FRAME_MS,
                                latency_ms=float(np.mean(latency)),
                                step_ms=float(np.median(step_ms)),
                                dropped_frames=audio.dropped_frames, underruns=audio.underruns,
                                aec_ms=aec_ms))
        self.emit(StateEvent("stopping"))

    def close(self) -> None:
        self.audio.close()
        if self.recorder is not None:
            self.recorder.close()
