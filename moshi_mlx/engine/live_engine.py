"""What the live engines share on top of the session base: load a model, check the devices, then run
one live session (microphone in, frames out) until stop(); and the statistics they report.

    class Conversation(LiveEngine):
        def _check_devices(self, options): ...      # a missing device, before the model loads
        def _load(self, options): ...               # the model (kept between sessions)
        def _open_session(self, model, options): ... # has recording_paths, run(), close()

Used by ConversationEngine (engine/conversation.py) and LiveTranscription (stt/live.py)."""

from __future__ import annotations

import collections
import math
import time
from pathlib import Path

import numpy as np

from .. import FRAME_RATE
from .events import StateEvent
from .session_base import BackgroundSession

FRAME_MS = 1000.0 / FRAME_RATE


def db(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float32)))) if len(x) else 0.0
    return 20.0 * math.log10(rms) if rms > 1e-10 else -200.0


class LiveStats:
    """Step times of the last 5 s and a once-a-second tick for StatsEvents."""

    def __init__(self, clock=time.monotonic):
        self.step_ms: collections.deque = collections.deque(maxlen=int(FRAME_RATE * 5))
        self._clock = clock
        self._next = clock() + 1.0

    def add(self, ms: float) -> None:
        self.step_ms.append(ms)

    def due(self) -> bool:
        """True once a second (then the caller emits its StatsEvent)."""
        if self._clock() < self._next:
            return False
        self._next += 1.0
        return True

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.step_ms))

    @property
    def median_ms(self) -> float:
        return float(np.median(self.step_ms))

    @property
    def real_time_factor(self) -> float:
        return self.mean_ms / FRAME_MS


class LiveEngine(BackgroundSession):
    """start(options) / stop() / running / recording_paths: "loading", the devices checked, the
    model loaded, "ready", then the session runs until stop(); closed in any case."""

    def __init__(self, listener):
        super().__init__(listener)
        self._recording_paths: dict[str, Path] | None = None
        self._session = None  # the last session (tests look inside)
        self._active = None  # the one the worker runs now

    @property
    def recording_paths(self) -> dict[str, Path] | None:
        return self._recording_paths

    def _run(self, options) -> None:
        self._emit(StateEvent("loading", options.model))
        self._check_devices(options)
        model = self._load(options)
        if self.stopping:
            return
        self._emit(StateEvent("ready", model.files.name))
        session = self._session = self._active = self._open_session(model, options)
        self._recording_paths = session.recording_paths
        session.run()

    def _cleanup(self) -> None:
        session, self._active = self._active, None
        if session is not None:
            session.close()

    # -- for subclasses -------------------------------------------------------------------------
    def _check_devices(self, options) -> None:
        raise NotImplementedError

    def _load(self, options):
        raise NotImplementedError

    def _open_session(self, model, options):
        raise NotImplementedError
