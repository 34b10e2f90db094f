"""Temporary outputs that a later run can prove are ours and abandoned.

Every file or folder a command writes first goes to a hidden sibling of its final path,
`.NAME.moshi-partial-XXXXXXXX`, created with the normal permissions (the umask applies) and locked
(`flock`) by the writing process for as long as it exists. The lock goes away with the process,
however it ends (even SIGKILL or a power cut), so a later run can tell an abandoned partial from one
being written: `remove_stale()` deletes only entries that carry our marker in their name, are not
locked by any process, and are older than 10 s (which covers the moment between creating and locking).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: nothing is locked and nothing is ever removed as stale
    fcntl = None

TAG = ".moshi-partial-"
STALE_AFTER_S = 10.0


def _lock(fd: int) -> bool:
    """Non-blocking exclusive lock on `fd`; False when another process holds one."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


class Partial:
    """A locked temporary file or folder beside `final`. `path` is where to write; `release()`
    drops the lock (after the partial was renamed or removed)."""

    def __init__(self, final: Path, folder: bool, kind: str = TAG):
        self.final = Path(final)
        for _ in range(100):
            path = self.final.parent / f".{self.final.name}{kind}{secrets.token_hex(4)}"
            try:
                if folder:
                    os.mkdir(path)  # 0o777 minus the umask
                    fd = os.open(path, os.O_RDONLY)
                else:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 100 collisions of 32 random bits
            raise FileExistsError(f"{self.final.parent}: cannot find a free temporary name")
        self.path, self.folder, self._fd = path, folder, fd
        _lock(fd)

    def discard(self) -> None:
        """Remove the partial (if still there) and release its lock."""
        if self.folder:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def remove_stale(folder: Path, kinds: tuple[str, ...] = (TAG,)) -> list[Path]:
    """Delete the abandoned partials in `folder` (see the module docstring); returns them."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    now = time.time()
    for path in entries:
        if not path.name.startswith(".") or not any(k in path.name for k in kinds):
            continue
        if is_abandoned(path, now):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def is_abandoned(path: Path, now: float | None = None) -> bool:
    """True for an entry older than STALE_AFTER_S that no process holds locked."""
    try:
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            return False
        if (now or time.time()) - path.stat().st_mtime < STALE_AFTER_S:
            return False
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        return _lock(fd)
    finally:
        os.close(fd)  # closing drops the lock we may have taken
