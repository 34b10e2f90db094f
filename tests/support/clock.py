"""A clock for tests: seconds since the epoch that move only when told (instead of sleeping)."""

from __future__ import annotations

import time


class FakeClock:
    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
