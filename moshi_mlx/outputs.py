"""All the files one command writes: checked before any work, put in place together. Every command
that writes a file goes through here (docs/command-promises.md lists the promises, and
tests/reliability/test_matrix.py checks them for every command).

    outputs = OutputSet(inputs=[args.input])             # outputs may never be one of these
    wav = outputs.add(args.output, "--output")          # checked now: MoshiError naming the option
    txt = outputs.add(args.transcript, "--transcript")  # None when the option was not given
    with outputs:                                        # on failure or Ctrl-C: temporaries removed
        ... write the files `wav` and `txt` ...
        outputs.commit()                                 # all renamed into place, then done

`add()` creates the temporary file at once (a locked `moshi_mlx.partial.Partial`, permissions from
the umask), so a missing or read-only folder, a path that is a folder, an output that is an input
(same path, symlink or hard link), or two options naming the same file are reported before anything
is computed, and no existing file is touched until every output is complete. A replaced file keeps
its permissions. An output that is a character device (/dev/null, a terminal) is written through,
never replaced; any other non-regular file (a FIFO, a socket) is refused. A write that fails for
lack of space ends in one line naming the file, with nothing partial left. Temporaries abandoned by
a killed run are removed by the next run that writes into the same folder.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from .errors import MoshiError
from .interrupts import deferred_interrupts
from .partial import Partial, remove_stale

_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_LOW_SPACE = 1 << 20  # a failed write with less than this free in the folder: a full disk


class OutputError(MoshiError):
    """An output path that cannot be written, or a write that failed."""


def writable_folder(path: str | os.PathLike, what: str) -> Path:
    """Prove a file can be written in the folder `path`, else MoshiError naming `what` and the
    reason. The folder is not created here (the recorder makes it when its first file goes in;
    see `record_folder`): a command that fails at once leaves nothing behind."""
    folder = Path(path).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} {path}: is a file, not a folder")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{what} {path}: {existing} is a file, not a folder")
    try:
        Partial(existing / "probe", folder=False).discard()
    except OSError as e:
        raise OutputError(f"{what} {path}: cannot write there ({_reason(e)})") from None
    return folder


@contextmanager
def record_folder(path: str | os.PathLike | None, what: str = "--record"):
    """For a folder filled as a command goes (a recording): checked at once (writable_folder);
    the folders the command created are removed at the end if they are still empty (the command
    failed at once, e.g. for lack of an audio device)."""
    if not path:
        yield None
        return
    folder = writable_folder(path, what)
    created, parent = [], folder
    while not parent.exists():
        created.append(parent)
        parent = parent.parent
    try:
        yield folder
    finally:
        for made in created:  # deepest first
            try:
                made.rmdir()  # only when empty
            except OSError:
                break


def new_file_mode() -> int:
    """The permissions a new file gets (0o666 less the umask), for a file that had to be made by
    a library that creates it 0600 (tempfile.mkstemp)."""
    try:
        with open("/proc/self/status") as f:  # reads the umask without changing it
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _reason(e: OSError) -> str:
    if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return "read-only"
    if e.errno in _NO_SPACE:
        return "no space left on the device"
    return e.strerror or str(e)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


class _Item:
    def __init__(self, final: Path, what: str, partial: Partial | None):
        self.final, self.what, self.partial = final, what, partial

    @property
    def path(self) -> Path:  # where to write: the temporary, or the device itself
        return self.partial.path if self.partial is not None else self.final


class OutputSet:
    def __init__(self, inputs: Iterable[str | os.PathLike | None] = ()) -> None:
        self._items: list[_Item] = []
        self._inputs: dict[tuple[int, int], str] = {}
        for path in inputs:
            self.add_input(path)

    def add_input(self, path: str | os.PathLike | None) -> None:
        """A file this command reads: no output may be it (by path, symlink or hard link)."""
        ident = _identity(path) if path is not None and str(path) != "-" else None
        if ident is not None:
            self._inputs[ident] = str(path)

    def add(self, path: str | os.PathLike | None, what: str = "output") -> Path | None:
        """Check `path` as an output file and return the path to write instead (a temporary beside
        it; a character device itself). On a bad path every temporary of the set is removed and
        MoshiError raised."""
        if path is None:
            return None
        try:
            return self._add(path, what)
        except BaseException:
            self.discard()
            raise

    def _add(self, path: str | os.PathLike, what: str) -> Path:
        final = Path(path).expanduser().absolute()
        for item in self._items:
            if os.path.normpath(item.final) == os.path.normpath(final) or (
                    _identity(final) is not None and _identity(final) == _identity(item.final)):
                raise OutputError(f"{item.what} and {what} both name {path}: give each its own file")
        ident = _identity(final)
        if ident is not None and ident in self._inputs:
            raise OutputError(f"{what} {path}: is one of the inputs ({self._inputs[ident]}): it would "
                              "be overwritten; give another file name")
        try:
            mode = os.stat(final).st_mode
        except OSError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise OutputError(f"{what} {path}: is a folder; give a file name")
        if mode is not None and stat.S_ISCHR(mode):  # /dev/null, a terminal: written through
            self._items.append(_Item(final, what, None))
            return final
        if mode is not None and not stat.S_ISREG(mode):
            raise OutputError(f"{what} {path}: is {_kind(mode)}, not a regular file; it is never "
                              "replaced: give a file name")
        parent = final.parent
        if not parent.is_dir():
            why = f"the folder {parent} does not exist" if not parent.exists() else f"{parent} is not a folder"
            raise OutputError(f"{what} {path}: {why}")
        remove_stale(parent)
        try:
            partial = Partial(final, folder=False)
        except OSError as e:
            raise OutputError(f"{what} {path}: cannot write there ({_reason(e)})") from None
        self._items.append(_Item(final, what, partial))
        return partial.path

    def commit(self) -> None:
        """Rename every temporary into place (a replaced file's permissions kept); stop requests
        wait until all are renamed."""
        with deferred_interrupts():
            for item in self._items:
                if item.partial is None:
                    continue
                try:
                    _keep_mode(item.final, item.partial.path)
                    os.replace(item.partial.path, item.final)
                except OSError as e:
                    raise OutputError(f"{item.what} {item.final}: cannot put the finished file in "
                                      f"place ({_reason(e)})") from None
                item.partial.release()
            self._items = []

    def discard(self) -> None:
        for item in self._items:
            if item.partial is not None:
                item.partial.discard()
        self._items = []

    def write_failure(self, exc: BaseException) -> OutputError | None:
        """The one-line error for `exc` when it is a write into these outputs that failed for
        lack of space (OSError ENOSPC, or libsndfile's bare "System error." on a full folder)."""
        if isinstance(exc, OSError) and exc.errno not in _NO_SPACE:
            return None
        if not isinstance(exc, OSError) and type(exc).__name__ != "LibsndfileError":
            return None
        for item in self._items:
            if isinstance(exc, OSError) and exc.filename and str(exc.filename) in (str(item.path), str(item.final)):
                return _no_space(item)
        for item in self._items:
            if _is_full(item):
                return _no_space(item)
        if isinstance(exc, OSError) and self._items:
            return _no_space(self._items[0])
        return None

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, kind, value, tb) -> None:
        error = self.write_failure(value) if value is not None else None
        self.discard()
        if error is not None:
            raise error from None


def _no_space(item: _Item) -> OutputError:
    return OutputError(f"{item.what} {item.final}: no space left on the device; nothing was written")


def _is_full(item: _Item) -> bool:
    if item.partial is None:  # a device: does it refuse a write for lack of space (/dev/full)?
        try:
            fd = os.open(item.final, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return False
        try:
            os.write(fd, b"\0")
            return False
        except OSError as e:
            return e.errno in _NO_SPACE
        finally:
            os.close(fd)
    try:
        st = os.statvfs(item.final.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < _LOW_SPACE


def _keep_mode(final: Path, tmp: Path) -> None:
    try:
        st = os.stat(final)
    except OSError:
        return  # a new file: the umask decided
    if stat.S_ISREG(st.st_mode):
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
