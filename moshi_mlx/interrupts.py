"""Stop requests for the command-line tools: SIGTERM and SIGHUP end a command exactly like Ctrl-C
(a KeyboardInterrupt, so every `with`/`finally` cleans up its temporary files), and the short step
that renames finished outputs into place runs to its end before a stop request takes effect.

Python runs signal handlers on the main thread only; from any other thread both helpers do nothing
(a worker thread is stopped by its caller's cancel flag instead).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable

_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A stop request (Ctrl-C, SIGTERM, SIGHUP). `completed`: it arrived while the outputs were
    being renamed into place, which was finished first: the outputs are whole."""

    def __init__(self, signal_name: str = "SIGINT", completed: bool = False):
        super().__init__(signal_name)
        self.signal_name, self.completed = signal_name, completed


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def stop_signals_interrupt():
    """Within the block SIGTERM and SIGHUP raise Interrupted (a KeyboardInterrupt) like Ctrl-C."""
    if not _on_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def deferred_interrupts():
    """Ctrl-C, SIGTERM and SIGHUP received within the block are held until it ends, then raise
    Interrupted(completed=True): a sequence of renames is never cut in the middle."""
    if not _on_main_thread():
        yield
        return
    received: list[int] = []
    signals = (signal.SIGINT, *_STOP_SIGNALS)
    previous = {sig: signal.signal(sig, lambda signum, _f: received.append(signum)) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise Interrupted(signal.Signals(received[0]).name, completed=True)


@contextmanager
def interrupt_as_request(on_request: Callable[[], None]):
    """Within the block Ctrl-C calls `on_request` (which asks the work to wind down) instead of
    raising at whatever line runs (where a KeyboardInterrupt may be lost, in a finaliser or a
    native callback); KeyboardInterrupt is raised as the block ends. A second Ctrl-C raises at once."""
    if not _on_main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield  # (started with Ctrl-C ignored, as a background job: it stays ignored)
        return
    received: list[int] = []

    def handler(signum, _frame) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        on_request()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt
