"""All the files one command writes, checked before any work and put in place together.

    outputs = OutputSet()
    wav = outputs.add(args.output, "--output")          # checked now: MoshiError naming the option
    txt = outputs.add(args.transcript, "--transcript")  # None when the option was not given
    with outputs:                                        # on failure or Ctrl-C: temporaries removed
        ... write the files `wav` and `txt` (temporary paths beside the final ones) ...
        outputs.commit()                                 # all renamed into place, then done

`add()` creates the temporary file at once (a locked `moshi_mlx.partial.Partial`), so a missing or
read-only folder, a path that is a folder, or two options naming the same file are reported before
anything is computed, and no existing file is touched until every output is complete. Temporaries
abandoned by a killed run are removed by the next run that writes into the same folder.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import MoshiError
from .interrupts import deferred_interrupts
from .partial import Partial, remove_stale


def writable_folder(path: str | os.PathLike, what: str) -> Path:
    """Create `path` (and its parents) if needed and prove a file can be written in it, else
    MoshiError naming `what` and the reason. For outputs written as they go (a recording)."""
    folder = Path(path).expanduser().absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        Partial(folder / "probe", folder=False).discard()
    except OSError as e:
        if folder.exists() and not folder.is_dir():
            raise MoshiError(f"{what} {path}: is a file, not a folder") from None
        raise MoshiError(f"{what} {path}: cannot write there ({_reason(e)})") from None
    return folder


def _reason(e: OSError) -> str:
    if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return "read-only"
    return e.strerror or str(e)


class OutputSet:
    def __init__(self) -> None:
        self._items: list[tuple[Path, Partial, str]] = []

    def add(self, path: str | os.PathLike | None, what: str = "output") -> Path | None:
        """Check `path` as an output file and return the temporary path to write instead. On a
        bad path every temporary of the set is removed and MoshiError raised."""
        if path is None:
            return None
        try:
            return self._add(path, what)
        except BaseException:
            self.discard()
            raise

    def _add(self, path: str | os.PathLike, what: str) -> Path:
        final = Path(path).expanduser().absolute()
        for other, _, other_what in self._items:
            if os.path.normpath(other) == os.path.normpath(final):
                raise MoshiError(f"{other_what} and {what} both name {path}: give each its own file")
        if final.is_dir():
            raise MoshiError(f"{what} {path}: is a folder; give a file name")
        parent = final.parent
        if not parent.is_dir():
            why = f"the folder {parent} does not exist" if not parent.exists() else f"{parent} is not a folder"
            raise MoshiError(f"{what} {path}: {why}")
        remove_stale(parent)
        try:
            partial = Partial(final, folder=False)
        except OSError as e:
            raise MoshiError(f"{what} {path}: cannot write there ({_reason(e)})") from None
        self._items.append((final, partial, what))
        return partial.path

    def commit(self) -> None:
        """Rename every temporary into place; stop requests wait until all are renamed."""
        with deferred_interrupts():
            for final, partial, what in self._items:
                try:
                    os.replace(partial.path, final)
                except OSError as e:
                    raise MoshiError(f"{what} {final}: cannot put the finished file in place "
                                     f"({e.strerror or e})") from None
                partial.release()
            self._items = []

    def discard(self) -> None:
        for _, partial, _ in self._items:
            partial.discard()
        self._items = []

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()
