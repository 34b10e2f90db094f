"""A recorded session's metadata: a JSON sidecar `<base>.json` beside its WAV and transcript.

It says what the recording is (the app mode, the model's kind, the model), when it started, and,
once the session has ended, how long it lasted and its first words. It is written atomically (a
temporary file, then a rename) when recording starts and again when it ends, so it is never half
written; a session whose process was killed keeps its start record (no `ended`), and its WAV and
transcript stay valid on their own (see recorder.py), so a reader takes the duration from the WAV
and the first words from the transcript then. No Qt and no MLX: the app's History reads it too.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

FORMAT = "moshi-session"
VERSION = 1
TITLE_WORDS = 12  # how many of the first words make a session's title
_STAMP = re.compile(r"^\s*\[[0-9:.]+\]\s*")


def sidecar_path(base: str | os.PathLike) -> Path:
    """`<base>.json` for a recording whose files are `<base>.wav` and `<base>.txt`."""
    return Path(str(base) + ".json")


def now_iso(clock: Callable[[], float] = time.time) -> str:
    """The local time with its UTC offset, to the second (what `started` and `ended` hold);
    `clock`: seconds since the epoch (tests pass their own)."""
    return datetime.fromtimestamp(clock()).astimezone().isoformat(timespec="seconds")


def write_atomic(path: str | os.PathLike, data: dict) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read(path: str | os.PathLike) -> dict | None:
    """The sidecar's contents, or None when the file is missing, damaged or not one of ours."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def first_words(transcript: str | os.PathLike, count: int = TITLE_WORDS) -> str:
    """The first `count` words of a recorded transcript (its `#` header and timestamps left out)."""
    words: list[str] = []
    try:
        with open(transcript, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                words += _STAMP.sub("", line).split()
                if len(words) >= count:
                    break
    except OSError:
        return ""
    return " ".join(words[:count])


class SessionMeta:
    """The sidecar of one recording: written at once by the constructor, completed by `finish`."""

    def __init__(self, base: str | os.PathLike, *, mode: str, kind: str, model: str,
                 model_name: str = "", wav: str | os.PathLike | None = None,
                 transcript: str | os.PathLike | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.path = sidecar_path(base)
        self.transcript = Path(transcript) if transcript else None
        self.data = {"format": FORMAT, "version": VERSION, "mode": mode, "kind": kind, "model": model,
                     "model_name": model_name or model, "started": now_iso(clock),
                     "wav": Path(wav).name if wav else None,
                     "transcript": self.transcript.name if self.transcript else None}
        write_atomic(self.path, self.data)

    def add_image(self, file_name: str | None, time_s: float) -> None:
        """MoshiVis: the image shown from `time_s` on (its copy beside the recording; None: none)."""
        self.data.setdefault("images", []).append({"time_s": round(float(time_s), 3), "file": file_name})
        write_atomic(self.path, self.data)

    def finish(self, duration_s: float) -> None:
        """The session ended: its duration, end time and first words."""
        self.data.update(ended=now_iso(self.clock), duration_s=round(float(duration_s), 3),
                         first_words=first_words(self.transcript) if self.transcript else "")
        write_atomic(self.path, self.data)
