"""The lifecycle every background engine shares (engine/session_base.py)."""

import threading
import time

import pytest

from moshi_mlx.engine import mlx_worker
from moshi_mlx.engine.events import ErrorEvent, StateEvent
from moshi_mlx.engine.session_base import BackgroundSession, error_event
from moshi_mlx.errors import MoshiError, PersonaError
from moshi_mlx.kinds import ModelKindError
from moshi_mlx.tts.voices import VoiceError


class Waiting(BackgroundSession):
    def __init__(self, listener, fail=None):
        super().__init__(listener)
        self.fail, self.on_worker, self.woken, self.cleaned = fail, None, threading.Event(), False

    def _run(self, options):
        self.on_worker = mlx_worker.on_worker_thread()
        self._emit(StateEvent("running"))
        if self.fail is not None:
            raise self.fail
        self.woken.wait(5)

    def _on_stop(self):
        self.woken.set()

    def _cleanup(self):
        self.cleaned = True


def test_start_returns_at_once_runs_on_the_worker_and_stop_is_idempotent():
    events = []
    s = Waiting(events.append)
    s.start(object())
    while s.on_worker is None:  # the worker has started it
        time.sleep(0.01)
    with pytest.raises(RuntimeError):
        s.start(object())
    s.stop()
    s.stop()
    assert not s.running and s.on_worker and s.cleaned
    assert [e.state for e in events] == ["running", "stopped"]


@pytest.mark.parametrize("exc, kind", [
    (MoshiError("bad"), "model_load"), (PersonaError("p"), "persona"), (VoiceError("v"), "voice"),
    (ModelKindError("k"), "model_kind"), (MemoryError(), "out_of_memory"), (ValueError("x"), "internal"),
])
def test_one_map_from_exceptions_to_error_kinds(exc, kind):
    events = []
    s = Waiting(events.append, fail=exc)
    s.start(object())
    s._job.result(5)  # ends by itself
    assert isinstance(events[1], ErrorEvent) and events[1].kind == kind
    assert events[-1] == StateEvent("stopped") and error_event(exc).kind == kind


def test_a_broken_listener_never_stops_the_session(capsys):
    def listener(event):
        raise RuntimeError("listener")

    s = Waiting(listener, fail=ValueError("x"))
    s.start(object())
    s._job.result(5)
    assert s.cleaned and "listener" in capsys.readouterr().err
