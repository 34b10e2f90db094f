"""Long jobs (download, convert) on a QThread: progress with speed and remaining time, cancel.

The job itself is a plain function `fn(progress, cancel)` from the core (no Qt); this adapter runs it
off the UI thread and forwards its progress through queued signals.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot


class RateEstimator:
    """Speed (units/s) over a sliding window, and the time left at that speed."""

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_s
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque()

    def update(self, done: float) -> None:
        now = self._clock()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()

    def speed(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0

    def remaining_s(self, total: float) -> float | None:
        speed = self.speed()
        if total <= 0 or speed <= 0 or not self._samples:
            return None
        return max(0.0, (total - self._samples[-1][1]) / speed)


class JobCancelled(Exception):
    """Raised by a job function that stopped because cancel was set."""


class _Worker(QObject):
    progress = Signal(float, float)  # done, total
    ended = Signal(str, object)  # outcome, result or message

    def __init__(self, fn: Callable[[Callable[[float, float], None], threading.Event], Any],
                 cancel: threading.Event) -> None:
        super().__init__()
        self._fn = fn
        self._cancel = cancel
        self._last_emit = 0.0

    def _report(self, done: float, total: float) -> None:
        now = time.monotonic()  # at most ~20 updates a second reach the UI
        if now - self._last_emit >= 0.05 or (total and done >= total):
            self._last_emit = now
            self.progress.emit(float(done), float(total or 0))

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(self._report, self._cancel)
        except JobCancelled:
            self.ended.emit("cancelled", None)
        except BaseException as e:  # shown to the user; the app keeps running
            if self._cancel.is_set():
                self.ended.emit("cancelled", None)
            else:
                self.ended.emit("failed", str(e) or type(e).__name__)
        else:
            self.ended.emit("cancelled" if self._cancel.is_set() else "succeeded", result)


class Job(QObject):
    """One background job. Signals arrive on the UI thread; `speed`/`remaining_s` follow progress."""

    progress = Signal(float, float)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()  # after any of the three outcomes

    def __init__(self, name: str, fn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.cancel_event = threading.Event()
        self.rate = RateEstimator()
        self.done = 0.0
        self.total = 0.0
        self.outcome: str | None = None  # 'succeeded' | 'failed' | 'cancelled'
        self._thread = QThread()
        self._thread.setObjectName(f"job-{name}")
        self._worker = _Worker(fn, self.cancel_event)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        # Bound slots of this QObject (UI thread): the worker's signals arrive queued.
        self._worker.progress.connect(self._on_progress)
        self._worker.ended.connect(self._on_ended)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def is_running(self) -> bool:
        return self.outcome is None and self._thread.isRunning()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Cancel and wait for the thread to end (used when the app closes)."""
        self.cancel_event.set()
        return self._thread.wait(timeout_ms)

    def speed(self) -> float:
        return self.rate.speed()

    def remaining_s(self) -> float | None:
        return self.rate.remaining_s(self.total)

    @Slot(float, float)
    def _on_progress(self, done: float, total: float) -> None:
        self.done, self.total = done, total
        self.rate.update(done)
        self.progress.emit(done, total)

    @Slot(str, object)
    def _on_ended(self, outcome: str, payload: object) -> None:
        self.outcome = outcome
        self._thread.quit()
        self._thread.wait()
        if outcome == "succeeded":
            self.succeeded.emit(payload)
        elif outcome == "failed":
            self.failed.emit(str(payload))
        else:
            self.cancelled.emit()
        self.finished.emit()
