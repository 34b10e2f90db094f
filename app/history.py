"""The History: every recorded session in the recordings folder, searchable. Plain Python (no Qt).

A session is the files sharing one base name: `<base>.wav` (the recording), `<base>.txt` (its
timestamped transcript) and `<base>.json` (its metadata: moshi_mlx.engine.session_meta). Sessions
recorded before sidecars existed, or whose sidecar is damaged, are listed too: the date comes from
the file name (or its modification time), the mode from the transcript's header, the duration from
the WAV header, the first words from the transcript. A sidecar without `ended` belongs to a session
that is still running or whose process died; the WAV and transcript are valid in both cases.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

from moshi_mlx.engine import session_meta

from .fileops import atomic_copy, atomic_text

_STAMPED = re.compile(r"^\[(\d+(?::\d{1,2}){1,2}(?:\.\d+)?)\]\s?(.*)$")
_NAME_TIME = re.compile(r"(\d{8}-\d{6})")
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


class HistoryError(Exception):
    """A history action failed; the message names the file at fault."""


@dataclass(frozen=True)
class Line:
    time_s: float  # session time of the line's first word
    text: str


@dataclass(frozen=True)
class Session:
    base: Path  # folder / name without suffix
    wav: Path | None
    transcript: Path | None
    meta: Path | None  # the sidecar, when there is one
    started: datetime
    mode: str  # app mode id ("talk", ...)
    kind: str  # model kind ("moshi", ...; "" when unknown)
    model: str  # the model spec it ran with ("" when unknown)
    model_name: str
    duration_s: float | None
    first_words: str
    name: str = ""  # given by the user (Rename)
    ended: bool = True  # False: still recording, or the process died (files valid all the same)
    images: tuple[tuple[float, Path | None], ...] = ()  # MoshiVis: (time shown, its copy or None)

    @property
    def title(self) -> str:
        return self.name or self.first_words or "(no words)"

    @property
    def files(self) -> list[Path]:
        kept = [self.wav, self.transcript, self.meta] + [p for _, p in self.images]
        return [p for p in dict.fromkeys(kept) if p is not None and p.exists()]


# ---- reading ----------------------------------------------------------------------------------

def seconds_of(stamp: str) -> float:
    """'00:01:02.500', '1:02' or '1:02:03' -> seconds."""
    total = 0.0
    for part in stamp.split(":"):
        total = total * 60 + float(part)
    return total


def parse_transcript(path: Path | None) -> list[Line]:
    """The timestamped lines of a recorded transcript (`[hh:mm:ss.mmm] text`, or `[m:ss] text` as
    the app exports them); `#` headers and other lines without a stamp are left out."""
    if path is None:
        return []
    try:
        raw = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = []
    for row in raw.splitlines():
        m = _STAMPED.match(row.strip())
        if m:
            lines.append(Line(seconds_of(m.group(1)), m.group(2).strip()))
    return lines


def _wav_seconds(path: Path | None) -> float | None:
    if path is None or not path.is_file():
        return None
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except Exception:  # noqa: BLE001 - a damaged or foreign file: duration unknown, still listed
        return None


def _started_from_name(path: Path) -> datetime:
    m = _NAME_TIME.search(path.name)
    if m:
        try:
            return datetime.strptime(m.group(1), "%Y%m%d-%H%M%S").astimezone()
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone()


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _images(folder: Path, entries) -> tuple[tuple[float, Path | None], ...]:
    """The sidecar's `images` (MoshiVis: each image shown, from when; engine/recorder.py), its
    damaged entries left out; files are names in the sidecar's own folder."""
    shown = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("time_s"), (int, float)):
            continue
        name = entry.get("file")
        if name is not None and (not isinstance(name, str) or not name or Path(name).name != name):
            continue
        shown.append((float(entry["time_s"]), folder / name if name else None))
    return tuple(shown)


def _from_sidecar(sidecar: Path, data: dict) -> Session:
    base = Path(str(sidecar)[: -len(".json")])
    wav = _existing(sidecar.parent / data["wav"]) if data.get("wav") else _existing(base.with_name(base.name + ".wav"))
    txt = (_existing(sidecar.parent / data["transcript"]) if data.get("transcript")
           else _existing(base.with_name(base.name + ".txt")))
    try:
        started = datetime.fromisoformat(str(data.get("started")))
        if started.tzinfo is None:
            started = started.astimezone()
    except ValueError:
        started = _started_from_name(wav or sidecar)
    ended = "ended" in data
    duration = data.get("duration_s") if ended else None
    if not isinstance(duration, (int, float)):
        duration = _wav_seconds(wav)
    words = data.get("first_words") if ended else None
    if not isinstance(words, str):
        words = session_meta.first_words(txt) if txt else ""
    return Session(base, wav, txt, sidecar, started, str(data.get("mode") or "talk"),
                   str(data.get("kind") or ""), str(data.get("model") or ""),
                   str(data.get("model_name") or data.get("model") or ""), duration, words,
                   str(data.get("name") or ""), ended, _images(sidecar.parent, data.get("images")))


def _legacy(wav: Path) -> Session:
    base = wav.with_suffix("")
    txt = _existing(wav.with_suffix(".txt"))
    # Recorded before sidecars: conversations (the only mode then), model unknown.
    return Session(base, wav, txt, None, _started_from_name(wav), "talk", "", "", "",
                   _wav_seconds(wav), session_meta.first_words(txt) if txt else "")


def scan(folder: str | os.PathLike) -> list[Session]:
    """Every session in `folder` (not its sub-folders), newest first. A missing folder: none."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return []
    sessions, claimed = [], set()
    for sidecar in folder.glob("*.json"):
        data = session_meta.read(sidecar)
        if data is None:
            continue
        s = _from_sidecar(sidecar, data)
        if s.wav is None and s.transcript is None:
            continue  # its recording was deleted outside the app
        sessions.append(s)
        claimed.update(p for p in (s.wav, s.transcript) if p)
    for wav in folder.glob("conversation-*.wav"):
        if wav not in claimed:
            sessions.append(_legacy(wav))
    sessions.sort(key=lambda s: (s.started, s.base.name), reverse=True)
    return sessions


# ---- search -----------------------------------------------------------------------------------

class TranscriptCache:
    """Transcript texts for searching, re-read only when a file changes (size or mtime)."""

    def __init__(self) -> None:
        self._texts: dict[Path, tuple[tuple[int, int], str]] = {}

    def text(self, path: Path | None) -> str:
        if path is None:
            return ""
        try:
            st = path.stat()
        except OSError:
            return ""
        key = (st.st_size, st.st_mtime_ns)
        cached = self._texts.get(path)
        if cached is None or cached[0] != key:
            text = " ".join(line.text for line in parse_transcript(path))
            cached = self._texts[path] = (key, text.lower())
        return cached[1]


def search(sessions: Iterable[Session], query: str, cache: TranscriptCache,
           labels: Callable[[Session], str] = lambda s: s.mode) -> list[Session]:
    """Sessions where every word of `query` appears in the title, model, mode or transcript."""
    words = query.lower().split()
    if not words:
        return list(sessions)
    found = []
    for s in sessions:
        hay = " ".join((s.title, s.model_name, s.model, labels(s), s.started.strftime("%Y-%m-%d"))).lower()
        if all(w in hay for w in words):
            found.append(s)
            continue
        text = hay + " " + cache.text(s.transcript)
        if all(w in text for w in words):
            found.append(s)
    return found


# ---- actions ----------------------------------------------------------------------------------

def rename(session: Session, name: str) -> Session:
    """Give the session a name (kept in its sidecar; the files keep theirs). A legacy session gets
    a sidecar with what is known about it."""
    name = " ".join(name.split())
    sidecar = session.meta or session_meta.sidecar_path(session.base)
    data = session_meta.read(sidecar) if session.meta else None
    if data is None:
        if sidecar.exists():
            raise HistoryError(f"{sidecar}: exists but is not a session sidecar; not replaced")
        data = {"format": session_meta.FORMAT, "version": session_meta.VERSION, "mode": session.mode,
                "kind": session.kind, "model": session.model, "model_name": session.model_name,
                "started": session.started.isoformat(timespec="seconds"),
                "wav": session.wav.name if session.wav else None,
                "transcript": session.transcript.name if session.transcript else None,
                "ended": session.started.isoformat(timespec="seconds"),
                "duration_s": session.duration_s, "first_words": session.first_words}
    data["name"] = name
    try:
        session_meta.write_atomic(sidecar, data)
    except OSError as e:
        raise HistoryError(f"{sidecar}: cannot write the new name ({e.strerror or e})") from None
    return replace(session, name=name, meta=sidecar)


def delete(session: Session, trash: Callable[[Path], bool]) -> list[Path]:
    """Move the session's files to the Trash with `trash(path) -> bool`. Stops at the first file
    the Trash refuses (HistoryError naming it); nothing is ever deleted outright."""
    moved = []
    for path in session.files:
        if not trash(path):
            raise HistoryError(f"{path}: could not be moved to the Trash"
                               + (f" ({len(moved)} other file(s) of this session were)" if moved else ""))
        moved.append(path)
    return moved


def srt_time(seconds: float) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def to_srt(lines: list[Line], duration_s: float | None = None, longest_s: float = 6.0) -> str:
    """SubRip subtitles: each line shown until the next one starts (at most `longest_s`)."""
    cues = []
    for i, line in enumerate(lines):
        end = lines[i + 1].time_s if i + 1 < len(lines) else (duration_s or line.time_s + longest_s)
        end = min(max(end, line.time_s + 0.5), line.time_s + longest_s)
        cues.append(f"{i + 1}\n{srt_time(line.time_s)} --> {srt_time(end)}\n{line.text}\n")
    return "\n".join(cues)


def clock(seconds: float) -> str:
    s = max(0, int(seconds))
    h, rem = divmod(s, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"


def to_text(session: Session, lines: list[Line], mode_label: str = "") -> str:
    head = [session.title, session.started.strftime("%Y-%m-%d %H:%M"),
            mode_label or session.mode] + ([session.model_name] if session.model_name else [])
    return " · ".join(head) + "\n\n" + "".join(f"[{clock(l.time_s)}] {l.text}\n" for l in lines)


def export_stem(session: Session) -> str:
    stem = session.base.name
    if session.name:
        stem = " ".join(_UNSAFE.sub(" ", session.name).split()).strip(" .")[:80] or stem
    return stem


def _free_name(folder: Path, stem: str, suffixes: tuple[str, ...]) -> str:
    """`stem`, or `stem (2)`... so that no existing file is replaced."""
    n, candidate = 1, stem
    while any((folder / (candidate + s)).exists() for s in suffixes):
        n += 1
        candidate = f"{stem} ({n})"
    return candidate


def export(session: Session, folder: str | os.PathLike, mode_label: str = "",
           progress: Callable[[float, float], None] | None = None) -> list[Path]:
    """Write the recording (.wav), its transcript as text (.txt) and as subtitles (.srt) into
    `folder`, named after the session; existing files are never replaced."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _free_name(folder, export_stem(session), (".wav", ".txt", ".srt"))
    lines = parse_transcript(session.transcript)
    written = [atomic_text(folder / f"{stem}.txt", to_text(session, lines, mode_label)),
               atomic_text(folder / f"{stem}.srt", to_srt(lines, session.duration_s))]
    if session.wav is not None:
        written.append(atomic_copy(session.wav, folder / f"{stem}.wav"))
    if progress is not None:
        progress(1, 1)
    return written
