"""`.npy` files of int32 codes [K, frames], written and read column by column in constant memory.

`NpyColumnWriter` appends one frame's column at a time: the array is stored in Fortran (column)
order, which the .npy format allows and `np.load` reads back as the same [K, frames] array, and the
header is rewritten with the final shape on `close()`. `CodesFile` checks what a file really is
(empty, a .npz archive, text, a pickle, the wrong dtype or rank) with a message naming the file, and
reads it a block of frames at a time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

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


class CodesFile:
    """The integer array [K, frames] of a .npy file, checked on opening (MoshiError naming the file:
    empty, a .npz archive, text, a pickle, damaged, not integers, not 2-D, truncated) and read a
    block of frames at a time, never loaded or memory-mapped whole (mapped pages would count in
    the process's memory):

        with CodesFile("talk.npy") as codes:
            k, frames = codes.shape
            for column in codes.columns():   # int [K] per frame
                ...
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._f = open(self.path, "rb")
        except IsADirectoryError:
            raise MoshiError(f"codes file {path}: is a folder") from None
        except OSError as e:
            raise MoshiError(f"cannot read codes file {path}: {e.strerror or e}") from None
        try:
            self.shape, self._fortran, self.dtype = self._header()
        except BaseException:
            self._f.close()
            raise
        self._offset = self._f.tell()

    def _header(self):
        path, head = self.path, self._f.read(_HEADER_BYTES)
        if not head:
            raise MoshiError(f"codes file {path}: is empty (0 bytes)")
        if head.startswith(b"PK\x03\x04"):
            raise MoshiError(f"codes file {path}: is a .npz archive (np.savez), not a .npy array; save "
                             "the codes with np.save(path, codes)")
        if not head.startswith(_MAGIC):
            what = "a Python pickle" if head[:1] == b"\x80" else "not a .npy file"
            raise MoshiError(f"codes file {path}: {what} (it starts with {head[:12]!r}); expected an "
                             "int array [K, frames] saved with np.save")
        self._f.seek(0)
        try:
            version = np.lib.format.read_magic(self._f)
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read is None:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, fortran, dtype = read(self._f)
        except ValueError as e:
            raise MoshiError(f"codes file {path}: damaged .npy header ({e})") from None
        if len(shape) != 2 or not np.issubdtype(dtype, np.integer):
            raise MoshiError(f"codes file {path}: codes must be an int array [K, frames], got "
                             f"{dtype} {list(shape)}")
        need = shape[0] * shape[1] * dtype.itemsize
        if os.fstat(self._f.fileno()).st_size - self._f.tell() < need:
            raise MoshiError(f"codes file {path}: truncated (its header announces {list(shape)} "
                             f"{dtype}, {need} bytes)")
        return tuple(shape), fortran, dtype

    def columns(self, block: int = 1024) -> Iterator[np.ndarray]:
        """Each frame's codes (int [K]), reading `block` frames at a time."""
        k, frames = self.shape
        size = self.dtype.itemsize
        for t0 in range(0, frames, block):
            n = min(block, frames - t0)
            if self._fortran:  # columns are contiguous: one read
                self._f.seek(self._offset + t0 * k * size)
                chunk = np.frombuffer(self._f.read(n * k * size), self.dtype).reshape(n, k)
            else:  # rows are contiguous: one read per codebook
                rows = []
                for r in range(k):
                    self._f.seek(self._offset + (r * frames + t0) * size)
                    rows.append(np.frombuffer(self._f.read(n * size), self.dtype))
                chunk = np.stack(rows, axis=1)
            yield from chunk

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "CodesFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
