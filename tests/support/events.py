"""A listener for engine events in tests."""

import threading


class EventLog:
    """A thread-safe listener that keeps every event and can wait for one."""

    def __init__(self):
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, cls):
        with self._cond:
            return [e for e in self.events if isinstance(e, cls)]

    def wait_for(self, predicate, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: any(predicate(e) for e in self.events), timeout)
