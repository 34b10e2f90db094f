"""Searching the user's History: the transcripts of past sessions in the recordings folder.

A session is `<base>.txt` (its timestamped transcript, lines `[hh:mm:ss.mmm] text`) with, when
there is one, `<base>.json` (its metadata, moshi_mlx.engine.session_meta: mode, started, name).
Older recordings have no sidecar: their date comes from the file name (`conversation-YYYYMMDD-
HHMMSS`) or its modification time. No Qt: the app's History (app/history.py) reads the same files.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..engine import session_meta

_STAMPED = re.compile(r"^\[(\d+(?::\d{1,2}){1,2}(?:\.\d+)?)\]\s?(.*)$")
_NAME_TIME = re.compile(r"(\d{8}-\d{6})")
MAX_SESSIONS = 2000  # newest first; older ones are not searched
MAX_LINES_PER_SESSION = 3


@dataclass(frozen=True)
class Hit:
    started: datetime
    mode: str
    title: str
    lines: tuple[tuple[str, str], ...]  # (stamp, text)


def _started(txt: Path, meta: dict | None) -> datetime:
    if meta and meta.get("started"):
        try:
            started = datetime.fromisoformat(str(meta["started"]))
            return started if started.tzinfo else started.astimezone()
        except ValueError:
            pass
    m = _NAME_TIME.search(txt.name)
    if m:
        try:
            return datetime.strptime(m.group(1), "%Y%m%d-%H%M%S").astimezone()
        except ValueError:
            pass
    return datetime.fromtimestamp(txt.stat().st_mtime).astimezone()


def _sessions(folder: Path) -> list[tuple[datetime, Path, dict | None]]:
    found = []
    for txt in folder.glob("*.txt"):
        meta = session_meta.read(txt.with_suffix(".json"))
        if meta is None and not txt.name.startswith("conversation-"):
            continue  # not a recording of ours
        try:
            found.append((_started(txt, meta), txt, meta))
        except OSError:
            continue
    found.sort(key=lambda s: s[0], reverse=True)
    return found[:MAX_SESSIONS]


def search(folder: str | Path, query: str, date: str | None = None, limit: int = 5,
           cancel: threading.Event | None = None) -> list[Hit]:
    """Sessions (newest first) whose transcript holds every word of `query` (case-insensitive),
    with the lines that match best; `date` ("YYYY-MM-DD") keeps that day's sessions only; an
    empty query lists the sessions (of that day) with their first lines."""
    folder = Path(folder).expanduser()
    words = query.lower().split()
    hits: list[Hit] = []
    if not folder.is_dir():
        return hits
    for started, txt, meta in _sessions(folder):
        if cancel is not None and cancel.is_set() or len(hits) >= limit:
            break
        if date and started.strftime("%Y-%m-%d") != date:
            continue
        try:
            raw = txt.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        lines = [(m.group(1).split(".")[0], m.group(2).strip())
                 for m in map(_STAMPED.match, raw.splitlines()) if m]
        title = str((meta or {}).get("name") or "")
        hay = " ".join(t for _, t in lines).lower() + " " + title.lower()
        if not all(w in hay for w in words):
            continue
        scored = sorted(((sum(w in t.lower() for w in words), i) for i, (_, t) in enumerate(lines)),
                        key=lambda s: (-s[0], s[1]))
        picked = sorted(i for score, i in scored[:MAX_LINES_PER_SESSION] if score or not words)
        hits.append(Hit(started, str((meta or {}).get("mode") or "talk"), title,
                        tuple(lines[i] for i in picked)))
    return hits


def format_hits(hits: list[Hit], query: str) -> str:
    if not hits:
        return f"No session in the History mentions {query!r}." if query.strip() else "No session found."
    out = []
    for h in hits:
        head = h.started.strftime("%Y-%m-%d %H:%M") + f" ({h.mode}" + (f", {h.title!r}" if h.title else "") + ")"
        out.append(head + "".join(f"\n  [{stamp}] {text}" for stamp, text in h.lines))
    return "\n".join(out)
