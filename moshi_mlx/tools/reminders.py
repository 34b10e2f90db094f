"""Timers and reminders, kept in a JSON file so that they survive a restart of the session.

The file (`reminders.json` in the app's data folder) holds the reminders not yet delivered. It is
rewritten whole (a temporary file, then a rename) after every change, so it is never half written.
A reminder is delivered once: `due(now)` removes what it returns, and saves at once. A reminder
that fell due while no session ran is delivered, late, by the next one (or by the app, which
keeps a store of its own on the same file). The clock is injected.

Several stores may share one file (the app's and a session's ToolBox): each reads the file again
when it changed since it last read or wrote it, and the stores of one process take one lock per
file, so a reminder cancelled by one is not written back by another, nor delivered twice.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

FORMAT = "moshi-reminders"
FILE_NAME = "reminders.json"  # in the data folder
MAX_REMINDERS = 200
_LOCKS: dict[str, threading.Lock] = {}  # one per file, shared by the stores of this process
_LOCKS_LOCK = threading.Lock()


def _file_lock(path: Path | None) -> threading.Lock:
    if path is None:
        return threading.Lock()
    key = os.path.abspath(path)
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(key, threading.Lock())


@dataclass(frozen=True)
class Reminder:
    reminder_id: str
    text: str
    due_s: float  # time.time() when it is due


class ReminderStore:
    def __init__(self, path: str | os.PathLike | None, clock: Callable[[], float]):
        """`path`: the JSON file (None: kept in memory only, for this session)."""
        self.path = Path(path).expanduser() if path is not None else None
        self.clock = clock
        self._lock = _file_lock(self.path)
        self._seen: tuple | None = None  # the file's (inode, size, mtime) when last read or written
        with self._lock:
            self._items: list[Reminder] = self._load()

    def _signature(self) -> tuple | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _refresh(self) -> None:
        """Read the file again if another store (or process) changed it (under the lock)."""
        if self.path is not None and self._signature() != self._seen:
            self._items = self._load()

    def _load(self) -> list[Reminder]:
        if self.path is None:
            return []
        self._seen = self._signature()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError, ValueError):
            return []  # a damaged file: start empty (it is replaced at the next change)
        items = []
        for row in data.get("reminders", []) if isinstance(data, dict) else []:
            try:
                items.append(Reminder(str(row["reminder_id"]), str(row["text"]), float(row["due_s"])))
            except (KeyError, TypeError, ValueError):
                continue
        return items

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "version": 1,
                                   "reminders": [asdict(r) for r in self._items]}, indent=1,
                                  ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
        self._seen = self._signature()

    def add(self, text: str, due_s: float) -> Reminder:
        with self._lock:
            self._refresh()
            if len(self._items) >= MAX_REMINDERS:
                raise ValueError(f"there are already {MAX_REMINDERS} reminders; cancel some first")
            reminder = Reminder(uuid.uuid4().hex[:8], text, float(due_s))
            self._items.append(reminder)
            self._items.sort(key=lambda r: r.due_s)
            self._save()
            return reminder

    def pending(self) -> list[Reminder]:
        with self._lock:
            self._refresh()
            return list(self._items)

    def cancel(self, reminder_id: str) -> Reminder | None:
        with self._lock:
            self._refresh()
            for r in self._items:
                if r.reminder_id == reminder_id:
                    self._items.remove(r)
                    self._save()
                    return r
            return None

    def due(self, now: float) -> list[Reminder]:
        """The reminders due at `now`, each returned once (removed from the file)."""
        with self._lock:
            self._refresh()
            due = [r for r in self._items if r.due_s <= now]
            if due:
                self._items = [r for r in self._items if r.due_s > now]
                self._save()
            return due


def describe(reminder: Reminder, now: float) -> str:
    """"a1b2c3d4: 'take the pasta out' at 14:05 (in 9 min)"."""
    when = datetime.fromtimestamp(reminder.due_s).astimezone()
    left = reminder.due_s - now
    if left <= 0:
        rel = "now"
    elif left < 90:
        rel = f"in {round(left)} s"
    elif left < 5400:
        rel = f"in {round(left / 60)} min"
    else:
        rel = f"in {left / 3600:.1f} h"
    day = "" if when.date() == datetime.fromtimestamp(now).astimezone().date() else when.strftime("%a %d %b ")
    return f"{reminder.reminder_id}: {reminder.text!r} at {day}{when.strftime('%H:%M')} ({rel})"
