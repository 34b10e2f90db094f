"""The conversation engine seen from the UI thread.

Engine calls (construct, start, stop) run on one control thread; the engine's events, which arrive
on its worker thread, are re-emitted as a Qt signal and so reach the UI thread queued. The UI thread
itself never touches the engine or MLX.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, Signal

from .backend import Backend


def classify_exception(e: BaseException) -> str:
    """An exception raised while starting -> the ErrorEvent kind shown to the user."""
    from moshi_mlx.errors import AudioDeviceError, MoshiError

    text = str(e).lower()
    if isinstance(e, MemoryError):
        return "out_of_memory"
    if isinstance(e, AudioDeviceError):
        if getattr(e, "kind", None):
            return e.kind
        if "permission" in text or "denied" in text or "not authorized" in text:
            return "mic_permission"
        if "no input" in text or "microphone" in text:
            return "no_input_device"
        return "device_lost"
    if isinstance(e, MoshiError):
        return "model_load"
    return "internal"


class EngineBridge(QObject):
    event = Signal(object)  # an engine Event (moshi_mlx.engine.events)
    start_failed = Signal(str, str)  # kind, message
    stopped = Signal(list)  # recording paths of the conversation that just ended

    def __init__(self, backend: Backend, parent: QObject | None = None, make_engine=None,
                 make_options=None) -> None:
        """`make_engine(listener)` and `make_options(**options)`: the engine to drive (default: the
        backend's conversation engine; Transcribe passes its live transcription)."""
        super().__init__(parent)
        self._backend = backend
        self._make_engine = make_engine or backend.make_engine
        self._make_options = make_options or backend.make_options
        self._engine = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-control")
        self._closed = False

    def start(self, **options) -> Future:
        """Ask the engine to start a conversation with EngineOptions(**options); returns at once."""
        return self._pool.submit(self._start, options)

    def stop(self) -> Future:
        """Ask the engine to stop; `stopped` is emitted when it has."""
        return self._pool.submit(self._stop)

    def call(self, fn) -> Future:
        """Run `fn(engine)` on the control thread, after the calls before it (the engine is made
        if needed); returns its Future."""
        return self._pool.submit(lambda: fn(self._get_engine()))

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop the engine and end the control thread (blocking: used when the window closes)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._pool.submit(self._stop).result(timeout)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    # -- control thread ----------------------------------------------------------------------
    def _listener(self, event) -> None:
        self.event.emit(event)  # engine worker thread -> queued to the UI thread

    def _get_engine(self):
        if self._engine is None:
            self._engine = self._make_engine(self._listener)
        return self._engine

    def _start(self, options: dict) -> None:
        try:
            self._get_engine().start(self._make_options(**options))
        except BaseException as e:
            self.start_failed.emit(classify_exception(e), str(e) or type(e).__name__)

    def _stop(self) -> None:
        paths: list[str] = []
        if self._engine is not None:
            try:
                self._engine.stop()
                found = getattr(self._engine, "recording_paths", None) or {}
                paths = [str(p) for p in (found.values() if isinstance(found, dict) else found)]
            except BaseException as e:
                self.start_failed.emit("internal", f"stopping the engine failed: {e}")
        self.stopped.emit(paths)
