"""The translation's output files, by role, through the shared output layer (moshi_mlx.outputs):
checked at once (before any work), written under temporary names, renamed together at the end; an
error, Ctrl+C or a cancel removes the temporary files and touches nothing else."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .. import outputs as shared


_OPTION = {"audio": "--output", "transcript": "--transcript", "tokens": "--tokens"}


class OutputSet:
    """`paths`: role -> final path (None: not wanted); `tmp`: role -> where to write it. No output
    may be one of `inputs` (path, symlink or hard link), a folder, or shared by two roles."""

    def __init__(self, paths: dict[str, str | os.PathLike | None], inputs: Iterable = ()):
        self.paths = {role: Path(p).expanduser() for role, p in paths.items() if p}
        self._set = shared.OutputSet(inputs=inputs)
        self.tmp: dict[str, Path] = {role: self._set.add(path, _OPTION.get(role, role))
                                     for role, path in self.paths.items()}

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self._set.__exit__(kind, value, traceback)
        self.tmp.clear()

    def commit(self) -> None:
        self._set.commit()
        self.tmp.clear()
