"""Output files of a synthesis, streamed to disk and committed together.

Each file is written under a temporary name beside its target as frames come (memory stays flat
for a whole book), and all are renamed into place at the end; an error or Ctrl+C removes the
temporary files and leaves the targets untouched. Paths are checked before any work starts.

The audio is a 24 kHz mono 16-bit WAV (a plain WAV's 4 GiB limit is ~24 h of speech). The tokens
are an int32 .npy [rows, frames] written column by column: the header declares Fortran order
(each frame's column is contiguous), which `np.load` reads as the same [rows, frames] array."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import SAMPLE_RATE
from .. import outputs as shared
from ..finite import check_finite_pcm

_NPY_HEADER = 128  # bytes reserved for the .npy header (magic, version, length, dict, padding)


OutputError = shared.OutputError


def check_output_path(path: str | os.PathLike, what: str) -> Path:
    """A quick early check of one output path (the shared layer checks it fully when it is added)."""
    probe = shared.OutputSet()
    with probe:
        probe.add(path, what)
    return Path(path).expanduser()


class OutputSet:
    """Temporary files for `targets` (name -> final path), renamed together by `commit()`, through
    the shared output layer (moshi_mlx.outputs): no target may be one of `inputs`."""

    def __init__(self, targets: dict[str, Path], inputs=(), options: dict[str, str] | None = None):
        self.targets = dict(targets)
        self._set = shared.OutputSet(inputs=inputs)
        options = options or {}
        self.temps: dict[str, Path] = {name: self._set.add(path, options.get(name, f"{name} file"))
                                       for name, path in self.targets.items()}

    def commit(self) -> None:
        self._set.commit()
        self.temps = {}

    def abort(self) -> None:
        self._set.discard()
        self.temps = {}

    def write_failure(self, exc: BaseException):
        """The one-line OutputError for a write into these files that failed for lack of space
        (None for any other failure): see moshi_mlx.outputs.OutputSet.write_failure."""
        return self._set.write_failure(exc)

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, kind, value, tb) -> None:
        self.temps = {}
        self._set.__exit__(kind, value, tb)  # not committed: nothing of it stays


class WavStream:
    """A mono 16-bit WAV written frame by frame."""

    def __init__(self, path: Path, rate: int = SAMPLE_RATE):
        import soundfile as sf

        self._file = sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_16",
                                  format="WAV")
        self.frames = 0

    def write(self, pcm: np.ndarray) -> None:
        pcm = np.asarray(pcm, np.float32)
        check_finite_pcm(pcm, "the WAV output")
        self._file.write(np.clip(pcm, -1.0, 1.0))
        self.frames += len(pcm)

    def close(self) -> None:
        self._file.close()


class NpyColumns:
    """An int32 [rows, n] .npy file appended one column at a time (Fortran order)."""

    def __init__(self, path: Path, rows: int):
        self.rows, self.columns = rows, 0
        self._file = open(path, "wb")
        self._file.write(self._header())

    def _header(self) -> bytes:
        d = f"{{'descr': '<i4', 'fortran_order': True, 'shape': ({self.rows}, {self.columns}), }}"
        text = d.encode("latin1")
        room = _NPY_HEADER - 10 - 1
        if len(text) > room:
            raise OutputError("token array too large for its header")
        body = text + b" " * (room - len(text)) + b"\n"
        return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body

    def append(self, column: np.ndarray) -> None:
        column = np.asarray(column, dtype="<i4").reshape(-1)
        if column.shape[0] != self.rows:
            raise ValueError(f"expected a column of {self.rows} tokens, got {column.shape[0]}")
        self._file.write(column.tobytes())
        self.columns += 1

    def close(self) -> None:
        self._file.seek(0)
        self._file.write(self._header())
        self._file.close()
