"""The conversation engine behind `chat` and the desktop app: start, stop, events.

`ConversationEngine.start()` returns at once; the MLX worker thread loads the model (kept for the next
conversation when model and codec backend are the same), opens the devices and runs frames until
`stop()`. Everything the caller learns arrives as events (moshi_mlx/engine/events.py), called from
the worker thread. No Qt and no terminal here; MLX runs only on the worker thread.
"""

from __future__ import annotations

import collections
import queue
from concurrent import futures
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import FRAME_RATE
from ..errors import MoshiError
from ..kinds import check_kind, kind_of
from ..sampling_defaults import AUDIO_TEMPERATURE, AUDIO_TOP_K, TEXT_TEMPERATURE, TEXT_TOP_K
from . import mlx_worker
from .core import FrameEngine, Sampling
from .live_engine import FRAME_MS, LiveEngine, LiveStats, db  # noqa: F401  (db: its old home)
from .session_base import error_event  # noqa: F401  (one map for every engine)
from .events import (ErrorEvent, Event, LevelEvent, OptionsEvent, ProgressEvent, StateEvent, StatsEvent,
                     TextEvent)

WARMUP_FRAMES = 3
KINDS_ACCEPTED = ("moshi", "personaplex")  # what a conversation runs by default (moshi_mlx/kinds.py)


@dataclass
class EngineOptions:
    model: str = "kyutai/moshiko-mlx-q4"  # local folder, HF repo id, or "demo"
    input_device: int | str | None = None  # None = system default
    output_device: int | str | None = None
    aec: bool | None = None  # None = auto: on when both devices are built-in
    text_temperature: float = TEXT_TEMPERATURE
    text_top_k: int = TEXT_TOP_K
    audio_temperature: float = AUDIO_TEMPERATURE
    audio_top_k: int = AUDIO_TOP_K
    seed: int | None = None
    kv_bits: int | None = None  # the LM's KV cache quantized (8 or 4 bits; None: not)
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
                        self.audio_top_k, self.seed, self.kv_bits)


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


class ConversationEngine(LiveEngine):
    """start(EngineOptions) / stop() / running / recording_paths (engine/live_engine.py), and the
    model kept between conversations."""

    busy_message = "a conversation is already running: stop() it first"

    def __init__(self, listener: Callable[[Event], None]) -> None:
        super().__init__(listener)
        self._models = ModelCache()
        self._conversation = 0
        self._changes: queue.SimpleQueue = queue.SimpleQueue()

    def change(self, kind_options: dict) -> None:
        """Kind options for the running conversation, from its next frame on (MoshiVis: {"image":
        path}, or {"image": None} for none). Applied on the MLX worker between two frames (before
        the first one while the model still loads), then an OptionsEvent, or a non-fatal
        ErrorEvent when the model cannot take them. RuntimeError when no conversation runs."""
        with self._lock:
            if not self.running:
                raise RuntimeError("no conversation is running: pass the options to start()")
            self._changes.put(dict(kind_options))

    def _prepare(self, options: EngineOptions) -> None:
        self._changes = queue.SimpleQueue()  # nothing asked for an earlier conversation

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
    def models(self) -> ModelCache:
        """The model kept between conversations; a ChatServer given it serves the same copy."""
        return self._models

    def _load(self, options: EngineOptions):
        """The LoadedModel for `options` (kept for the next session while the same one is asked for)."""
        return self._models.get(options, self._emit, self._stop)

    def _open_session(self, model, options: EngineOptions):
        """The session to run: has `recording_paths`, `run()` (until stop) and `close()`."""
        self._conversation += 1
        return _LiveSession(model, options, self._conversation, self._emit, self._stop, self._changes)

    def _check_devices(self, options) -> None:
        """A missing or unusable device is reported before the model is loaded (DeviceError)."""
        from .live import LiveAudio

        LiveAudio(options.input_device, options.output_device, options.max_lag_frames)


class _LiveSession:
    """One conversation: devices, AEC, recorder and the frame loop."""

    def __init__(self, model, options: EngineOptions, conversation: int, emit, stop: threading.Event,
                 changes: queue.SimpleQueue | None = None):
        from .live import LiveAudio

        self.emit, self.stop, self.conversation = emit, stop, conversation
        self.changes = changes or queue.SimpleQueue()
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
            self.recording_paths = self.recorder.paths  # the same dict: images shown later join it
            if (options.kind_options or {}).get("image"):
                self._keep_image(options.kind_options["image"], 0.0)

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
        stats = LiveStats()
        latency = collections.deque(maxlen=int(FRAME_RATE))
        aec_ms = 0.0
        frame_index = 0
        from .live import microphone_frames

        for mic in microphone_frames(audio, self.stop, emit, "conversation", self.recorder is not None):
            while not self.changes.empty():
                self.apply(self.changes.get(), frame_index / FRAME_RATE)
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
            stats.add(elapsed_ms)
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
            if stats.due():
                if self.aec is not None:
                    self.aec.set_delay_ms((audio.input_latency_s + audio.output_latency_s
                                           + audio.queued_output_s) * 1e3)
                emit(StatsEvent(frames=frame_index,
                                real_time_factor=stats.real_time_factor,
                                latency_ms=float(np.mean(latency)),
                                step_ms=stats.median_ms,
                                dropped_frames=audio.dropped_frames, underruns=audio.underruns,
                                aec_ms=aec_ms))
        self.emit(StateEvent("stopping"))

    def apply(self, kind_options: dict, time_s: float) -> None:
        """Kind options changed from this frame on (see ConversationEngine.change)."""
        try:
            self.core.change(kind_options)
        except (MoshiError, OSError) as e:
            self.emit(ErrorEvent(next(iter(kind_options), "options"), str(e), fatal=False))
            return
        if self.recorder is not None and "image" in kind_options:
            self._keep_image(kind_options["image"], time_s)
        self.emit(OptionsEvent(dict(kind_options), time_s, self.conversation))

    def _keep_image(self, path: str | None, time_s: float) -> None:
        """The recording keeps a copy of the picture shown from `time_s` on (a failure to copy it
        is said; the conversation goes on)."""
        try:
            self.recorder.add_image(path, time_s)
        except OSError as e:
            self.emit(ErrorEvent("image", f"the recording could not keep a copy of {path}: "
                                 f"{e.strerror or e}", fatal=False))

    def close(self) -> None:
        self.audio.close()
        if self.recorder is not None:
            self.recorder.close()
