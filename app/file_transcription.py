"""A file transcribed by the Transcribe mode's engine (moshi_mlx.stt.live.LiveTranscription.
transcribe_file) on the MLX worker, seen from the UI thread: its callbacks arrive on the worker
thread and are re-emitted as Qt signals (queued to the UI thread), with cancel and waiting."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from .engine_bridge import EngineBridge


def file_error_kind(e: BaseException, path: str) -> str:
    """An exception of a file transcription -> the message kind shown (app/messages.py): the
    engine's one map (moshi_mlx.engine.session_base.error_event), and "transcribe_file" for an
    error that names the file."""
    from moshi_mlx.engine.session_base import error_event

    event = error_event(e)
    kind = event.kind if event is not None else "model_load"  # None: a cancelled download
    return "transcribe_file" if kind == "model_load" and path in str(e) else kind


class FileJob(QObject):
    """One file transcribed by the Transcribe engine on the MLX worker. Its callbacks come from the
    worker thread and are re-emitted as signals (queued to the UI thread); the transcription's
    events are batched with the progress (at most ~20 updates a second reach the UI)."""

    started = Signal()  # the worker took the job (it may have waited for a live session)
    events = Signal(list)  # TextPiece / Word / EndOfTurn
    progress = Signal(float, float, float)  # done_s, total_s, speed (x real time)
    ended = Signal(str, object)  # 'succeeded' (FileResult) | 'failed' ((kind, message)) | 'cancelled'

    def __init__(self, path: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.cancel_event = threading.Event()
        self.outcome: str | None = None
        self._future = None
        self._batch: list = []
        self._lock = threading.Lock()
        self._last_emit = 0.0
        self.ended.connect(self._record_outcome)

    def start(self, bridge: EngineBridge, options) -> None:
        submitted = bridge.call(lambda engine: engine.transcribe_file(
            options, self.path, self._on_event, progress=self._on_progress, cancel=self.cancel_event,
            on_start=self.started.emit))
        submitted.add_done_callback(self._submitted)

    def cancel(self) -> None:
        self.cancel_event.set()
        future = self._future
        if future is not None:
            future.cancel()  # still waiting for the worker: it never starts

    def is_running(self) -> bool:
        return self.outcome is None

    def wait(self, timeout: float = 30.0) -> None:
        """Cancel and wait for the worker to leave the job (the app is quitting)."""
        from concurrent.futures import wait

        self.cancel()
        deadline = time.monotonic() + timeout
        while self._future is None and self.outcome is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the control thread is handing the job to the worker
        if self._future is not None:
            wait([self._future], max(0.0, deadline - time.monotonic()))

    # -- control and worker threads --------------------------------------------------------------
    def _submitted(self, control) -> None:
        error = control.exception()
        if error is not None:  # not an audio file (read from its header), or the app is closing
            self._end("failed", (file_error_kind(error, self.path) if not isinstance(error, RuntimeError)
                                 else "internal", str(error)))
            return
        self._future = control.result()
        if self.cancel_event.is_set():
            self._future.cancel()
        self._future.add_done_callback(self._finished)

    def _finished(self, future) -> None:
        from concurrent.futures import CancelledError

        from moshi_mlx.hub import DownloadCancelled
        from moshi_mlx.stt.files import TranscriptionCancelled

        try:
            result = future.result()
        except (CancelledError, TranscriptionCancelled, DownloadCancelled):
            self._end("cancelled", None)
        except BaseException as e:  # noqa: BLE001 - shown to the user; the app goes on
            self._end("cancelled" if self.cancel_event.is_set() else "failed",
                      (file_error_kind(e, self.path), str(e) or type(e).__name__))
        else:
            self._end("succeeded", result)

    def _on_event(self, event) -> None:
        with self._lock:
            self._batch.append(event)

    def _on_progress(self, done: float, total: float, speed: float) -> None:
        now = time.monotonic()
        if now - self._last_emit >= 0.05:
            self._last_emit = now
            self._flush()
            self.progress.emit(float(done), float(total), float(speed))

    def _flush(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, []
        if batch:
            self.events.emit(batch)

    def _end(self, outcome: str, payload) -> None:
        self._flush()
        self.ended.emit(outcome, payload)

    @Slot(str, object)
    def _record_outcome(self, outcome: str, _payload) -> None:
        self.outcome = outcome
