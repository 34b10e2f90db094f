"""The lifecycle every background engine shares: a conversation, a live transcription, a reading,
a server, the assistant.

    class Reading(BackgroundSession):
        def _run(self, options): ...          # on the MLX worker; returns when done or stopped
        def _on_stop(self): ...               # optional: any thread, wakes up what _run waits on

    session = Reading(listener)
    session.start(options)    # returns at once; RuntimeError if one already runs
    session.stop()            # blocking (with a timeout), idempotent, from any thread

All the work runs on the process-wide MLX worker thread (engine/mlx_worker.py). The listener gets
events from that thread (engine/events.py): StateEvent "loading" at the start of `_run` if the
subclass emits it, ErrorEvent for an exception (one map: `error_event`), and always a last
StateEvent "stopped". A listener that raises never stops the session.
"""

from __future__ import annotations

import threading
import traceback
from concurrent import futures
from typing import Callable

from ..errors import AudioDeviceError, ModelNotAvailableError, MoshiError
from . import mlx_worker
from .events import ErrorEvent, StateEvent


def error_event(e: BaseException, model: str = "the model",
                device_kind: str = "no_input_device") -> ErrorEvent | None:
    """The ErrorEvent that tells a listener why a session ended, from one map for every engine
    (None: a cancelled download, whose partial file stays for next time).

    A MoshiError subclass names its own kind with a class attribute `error_kind` (a voice the model
    cannot use: "voice"; a persona: "persona"; ...); an audio device error carries it per instance
    (`kind`: no_input_device, mic_permission, device_lost; `device_kind` when it carries none)."""
    from ..hub import DownloadCancelled

    if isinstance(e, DownloadCancelled):
        return None
    if isinstance(e, AudioDeviceError):
        return ErrorEvent(getattr(e, "kind", device_kind), str(e))
    if isinstance(e, ModelNotAvailableError):
        return ErrorEvent("download", str(e))
    if isinstance(e, MemoryError):
        return ErrorEvent("out_of_memory", f"not enough memory to run {model}: choose a smaller (4-bit) "
                          "model or close other applications")
    if isinstance(e, MoshiError):
        return ErrorEvent(getattr(e, "error_kind", "model_load"), str(e))
    return ErrorEvent("internal", f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exception(e)))


class BackgroundSession:
    """start / stop / running / events for one engine; subclasses write `_run(options)`."""

    stop_timeout = 10.0  # seconds stop() waits for the worker by default
    busy_message = "a session is already running: stop() it first"
    device_error_kind = "no_input_device"  # an AudioDeviceError without its own kind (an output: device_lost)

    def __init__(self, listener: Callable[[object], None]):
        self._listener = listener
        self._job: futures.Future | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- control (any thread) -----------------------------------------------------------------
    def start(self, options) -> None:
        """Start in the background; returns at once. `_prepare(options)` runs first on the caller's
        thread (checks that must refuse at once, e.g. an output path)."""
        with self._lock:
            if self.running:
                raise RuntimeError(self.busy_message)
            self._prepare(options)
            self._stop.clear()
            self._job = mlx_worker.submit(lambda: self._main(options))

    def stop(self, timeout: float | None = None) -> None:
        """Ask the session to end and wait for the worker to finish (files closed). Idempotent."""
        self._stop.set()
        self._on_stop()
        job = self._job
        if job is not None and not mlx_worker.on_worker_thread():
            futures.wait([job], self.stop_timeout if timeout is None else timeout)

    @property
    def running(self) -> bool:
        return self._job is not None and not self._job.done()

    @property
    def stopping(self) -> bool:
        """True once stop() was asked for (the worker's loops check it)."""
        return self._stop.is_set()

    # -- for subclasses -------------------------------------------------------------------------
    def _prepare(self, options) -> None:
        """Caller's thread, under the lock, before the worker gets the job."""

    def _on_stop(self) -> None:
        """Any thread, from stop(): wake up whatever `_run` may be waiting on."""

    def _run(self, options) -> None:
        raise NotImplementedError

    def _cleanup(self) -> None:
        """Worker thread, after `_run` ended in any way (before "stopped")."""

    def _model_name(self, options) -> str:
        return str(getattr(options, "model", "the model"))

    def _emit(self, event) -> None:
        try:
            self._listener(event)
        except Exception:  # a broken listener must not stop the session
            traceback.print_exc()

    def _main(self, options) -> None:
        try:
            if not self._stop.is_set():  # stopped before the worker got to it: nothing to do
                self._run(options)
        except Exception as e:
            event = error_event(e, self._model_name(options), self.device_error_kind)
            if event is not None:
                self._emit(event)
        finally:
            try:
                self._cleanup()
            finally:
                self._emit(StateEvent("stopped"))
