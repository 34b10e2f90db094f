"""One long-lived thread for MLX work off the main thread.

Measured with mlx 0.32 (CPU backend, Linux): when a thread that ran ops such as conv1d ends, the
process later aborts at exit ("terminate called without an active exception"), even after
mx.synchronize(). A thread that stays alive (parked, daemon) avoids it, and one thread for all MLX
work also keeps "one worker owns the model". Jobs run one at a time, in order.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable


class MlxWorker:
    def __init__(self, name: str = "moshi-mlx-worker"):
        self._name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], object]) -> Future:
        """Run `fn()` on the worker thread; the Future holds its result or exception."""
        future: Future = Future()
        self._jobs.put((fn, future))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
        return future

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as e:  # delivered to whoever waits on the future
                future.set_exception(e)
            del fn, future  # nothing of a finished job stays referenced while parked


_shared = MlxWorker()


def submit(fn: Callable[[], object]) -> Future:
    """Run `fn()` on the process-wide MLX worker thread."""
    return _shared.submit(fn)


def on_worker_thread() -> bool:
    return _shared.is_current()
