"""A set of output files written all or nothing: each goes to a temporary name beside its final
place, and they are renamed over the final names together at the end. An error, Ctrl+C or a
cancel removes the temporary files; nothing the program did not write is ever touched."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterable

from ..errors import MoshiError


class OutputSet:
    """`paths`: role -> final path (None: not wanted). Checked at once, before any work: each
    folder exists and is writable, no output is a folder or one of `inputs`, no two are the same."""

    def __init__(self, paths: dict[str, str | os.PathLike | None], inputs: Iterable = ()):
        self.paths = {role: Path(p).expanduser() for role, p in paths.items() if p}
        self.tmp: dict[str, Path] = {}
        seen: dict[Path, str] = {Path(i).expanduser().resolve(): "the input" for i in inputs}
        for role, path in self.paths.items():
            real = path.resolve()
            if real in seen:
                raise MoshiError(f"{path}: the {role} output would overwrite {seen[real]}")
            seen[real] = f"the {role} output"
            if path.is_dir():
                raise MoshiError(f"{path}: is a folder; give a file name for the {role} output")
            if not real.parent.is_dir():
                raise MoshiError(f"{path}: output folder {real.parent} does not exist")
            if not os.access(real.parent, os.W_OK):
                raise MoshiError(f"{path}: output folder {real.parent} is not writable")

    def __enter__(self) -> "OutputSet":
        try:
            for role, path in self.paths.items():
                # created new ("x": never an existing file), with the usual permissions (umask)
                tmp = path.resolve().parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
                tmp.open("xb").close()
                self.tmp[role] = tmp
        except OSError as e:
            self._discard()
            raise MoshiError(f"cannot write the outputs: {e}") from None
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self._discard()  # after commit() nothing is left to discard

    def commit(self) -> None:
        """Rename every temporary file over its final name."""
        for role, path in self.paths.items():
            os.replace(self.tmp.pop(role), path)

    def _discard(self) -> None:
        for tmp in self.tmp.values():
            tmp.unlink(missing_ok=True)
        self.tmp.clear()
