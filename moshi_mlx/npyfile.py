"""`.npy` files of int32 codes [K, frames], written and read column by column in constant memory.

`NpyColumnWriter` appends one frame's column at a time: the array is stored in Fortran (column)
order, which the .npy format allows and `np.load` reads back as the same [K, frames] array, and the
header is rewritten with the final shape on `close()`. `open_codes` checks what a file really is
(empty, a .npz archive, text, a pickle, the wrong dtype or rank) with a message naming the file, and
maps it read-only instead of loading it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import MoshiError

_MAGIC = b"\x93NUMPY"
_HEADER_BYTES = 128  # version 1.0 header, padded with spaces: room for any shape


class NpyColumnWriter:
    """`with NpyColumnWriter(path, rows) as w: w.append(column)` -> an int32 [rows, n] .npy file."""

    def __init__(self, path: str | os.PathLike, rows: int, dtype=np.int32):
        self.rows, self.dtype, self.columns = rows, np.dtype(dtype), 0
        self._f = open(path, "wb")
        self._f.write(self._header())

    def _header(self) -> bytes:
        desc = {"descr": self.dtype.str, "fortran_order": True, "shape": (self.rows, self.columns)}
        text = repr(desc).encode("latin1")
        pad = _HEADER_BYTES - len(_MAGIC) - 4 - len(text) - 1
        return _MAGIC + b"\x01\x00" + (_HEADER_BYTES - 10).to_bytes(2, "little") + text + b" " * pad + b"\n"

    def append(self, column) -> None:
        column = np.asarray(column, dtype=self.dtype).reshape(-1)
        if column.shape[0] != self.rows:
            raise ValueError(f"column of {column.shape[0]} values, expected {self.rows}")
        self._f.write(column.tobytes())
        self.columns += 1

    def close(self) -> None:
        if self._f.closed:
            return
        self._f.seek(0)
        self._f.write(self._header())
        self._f.close()

    def __enter__(self) -> "NpyColumnWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_codes(path: str | os.PathLike) -> np.ndarray:
    """The integer array [K, frames] stored in a .npy file, memory-mapped read-only."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
    except IsADirectoryError:
        raise MoshiError(f"codes file {path}: is a folder") from None
    except OSError as e:
        raise MoshiError(f"cannot read codes file {path}: {e.strerror or e}") from None
    if not head:
        raise MoshiError(f"codes file {path}: is empty (0 bytes)")
    if head.startswith(b"PK\x03\x04"):
        raise MoshiError(f"codes file {path}: is a .npz archive (np.savez), not a .npy array; save "
                         "the codes with np.save(path, codes)")
    if not head.startswith(_MAGIC):
        what = "a Python pickle" if head[:1] == b"\x80" else "not a .npy file"
        raise MoshiError(f"codes file {path}: {what} (it starts with {head[:12]!r}); expected an "
                         "int array [K, frames] saved with np.save")
    try:
        codes = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError, SyntaxError) as e:
        raise MoshiError(f"codes file {path}: damaged .npy file ({e})") from None
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise MoshiError(f"codes file {path}: codes must be an int array [K, frames], got "
                         f"{codes.dtype} {list(codes.shape)}")
    return codes


