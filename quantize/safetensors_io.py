"""Streaming safetensors: a validating reader that loads one tensor at a time, and a writer whose
header is planned up front so tensors are appended one by one and never held together.

Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
then the raw tensor bytes; offsets are relative to the end of the header.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from moshi_mlx.errors import CheckpointError

# safetensors dtype -> (numpy dtype used to read the bytes, mlx dtype of the tensor)
DTYPES: dict[str, tuple[np.dtype, mx.Dtype]] = {
    "BF16": (np.dtype("<u2"), mx.bfloat16),
    "F16": (np.dtype("<f2"), mx.float16),
    "F32": (np.dtype("<f4"), mx.float32),
    "F64": (np.dtype("<f8"), mx.float32),  # MLX has no float64 on every device: read as f32
    "I64": (np.dtype("<i8"), mx.int64),
    "I32": (np.dtype("<i4"), mx.int32),
    "I16": (np.dtype("<i2"), mx.int16),
    "I8": (np.dtype("i1"), mx.int8),
    "U64": (np.dtype("<u8"), mx.uint64),
    "U32": (np.dtype("<u4"), mx.uint32),
    "U16": (np.dtype("<u2"), mx.uint16),
    "U8": (np.dtype("u1"), mx.uint8),
    "BOOL": (np.dtype("?"), mx.bool_),
}
MLX_TO_ST = {mx.bfloat16: "BF16", mx.float16: "F16", mx.float32: "F32", mx.int64: "I64",
             mx.int32: "I32", mx.int16: "I16", mx.int8: "I8", mx.uint64: "U64", mx.uint32: "U32",
             mx.uint16: "U16", mx.uint8: "U8", mx.bool_: "BOOL"}
_MAX_HEADER = 100_000_000


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # safetensors dtype name
    shape: tuple[int, ...]
    start: int  # absolute byte offsets in the file
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def mx_dtype(self) -> mx.Dtype:
        return DTYPES[self.dtype][1]


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Parses and checks the header of a safetensors file against its size: a truncated or corrupt
    file fails here, before any tensor is read, with a message naming the file (and key)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: not a safetensors file (only {size} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n == 0 or n > _MAX_HEADER or 8 + n > size:
                raise CheckpointError(
                    f"{path}: not a safetensors file or truncated (header length {n}, file {size} bytes)")
            raw = f.read(n)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror or e})") from e
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt safetensors header ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupt safetensors header (not a JSON object)")
    header.pop("__metadata__", None)
    base = 8 + n
    infos: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        try:
            dtype, shape, (s, e) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
            s, e = int(s), int(e)
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: corrupt header entry for key {name!r}") from None
        if dtype not in DTYPES:
            raise CheckpointError(f"{path}: key {name!r} has unsupported dtype {dtype}")
        expected = math.prod(shape) * DTYPES[dtype][0].itemsize
        if min(shape, default=0) < 0 or s < 0 or e - s != expected:
            raise CheckpointError(f"{path}: key {name!r}: offsets {s}..{e} do not match shape {list(shape)} {dtype}")
        if base + e > size:
            raise CheckpointError(
                f"{path}: truncated: key {name!r} ends at byte {base + e}, the file has {size} bytes")
        infos[name] = TensorInfo(name, dtype, shape, base + s, base + e)
    return infos


def read_tensor(path: Path, info: TensorInfo, f=None) -> mx.array:
    """Reads one tensor into a fresh mx.array (nothing else of the file stays in memory)."""
    np_dtype, mx_dtype = DTYPES[info.dtype]
    buf = np.empty(info.nbytes, dtype=np.uint8)
    own = f is None
    try:
        f = open(path, "rb") if own else f
        f.seek(info.start)
        got = f.readinto(buf)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read key {info.name!r} ({e.strerror or e})") from e
    finally:
        if own and f is not None:
            f.close()
    if got != info.nbytes:
        raise CheckpointError(f"{path}: truncated while reading key {info.name!r}")
    arr = mx.array(buf.view(np_dtype).reshape(info.shape))
    del buf
    if info.dtype == "BF16":
        arr = arr.view(mx.bfloat16)
    elif info.dtype == "F64":
        arr = arr.astype(mx.float32)
    return arr


@dataclass(frozen=True)
class PlannedTensor:
    name: str
    dtype: mx.Dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.size


class StreamingWriter:
    """Writes a safetensors file whose tensors (names, dtypes, shapes) are all known in advance, in
    any order, one at a time. `sha256` and `size` are available after `close()`."""

    def __init__(self, path: Path, planned: list[PlannedTensor], metadata: dict[str, str] | None = None):
        self.path = Path(path)
        self._planned = {t.name: t for t in planned}
        if len(self._planned) != len(planned):
            raise ValueError("duplicate tensor names in the write plan")
        header: dict = {"__metadata__": dict(metadata or {"format": "mlx"})}
        offset = 0
        self._offsets: dict[str, int] = {}
        for t in planned:
            st_dtype = MLX_TO_ST[t.dtype]
            header[t.name] = {"dtype": st_dtype, "shape": list(t.shape),
                              "data_offsets": [offset, offset + t.nbytes]}
            self._offsets[t.name] = offset
            offset += t.nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # data starts 8-byte aligned, as safetensors writes it
        self._data_start = 8 + len(raw)
        self.size = self._data_start + offset
        self._hash = hashlib.sha256()
        self._order = [t.name for t in planned]
        self._next = 0
        self._pending: dict[str, bytes] = {}
        self._f = open(self.path, "wb")
        self._write(struct.pack("<Q", len(raw)) + raw)
        self.sha256: str | None = None

    def _write(self, data) -> None:
        self._f.write(data)
        self._hash.update(data)

    def add(self, name: str, value: mx.array) -> None:
        """Adds one tensor; tensors arriving ahead of their planned position wait in memory until
        the ones before them arrive (callers feed them in plan order, so nothing waits)."""
        t = self._planned.get(name)
        if t is None:
            raise ValueError(f"{name!r} is not in the write plan of {self.path}")
        if tuple(value.shape) != t.shape or value.dtype != t.dtype:
            raise ValueError(f"{name!r}: planned {t.shape} {t.dtype}, got {tuple(value.shape)} {value.dtype}")
        if name in self._pending or self._order.index(name) < self._next:
            raise ValueError(f"{name!r} written twice to {self.path}")
        self._pending[name] = _to_bytes(value)
        while self._next < len(self._order) and self._order[self._next] in self._pending:
            self._write(self._pending.pop(self._order[self._next]))
            self._next += 1

    def close(self) -> None:
        missing = self._order[self._next:]
        if missing:
            self._f.close()
            raise ValueError(f"{self.path}: {len(missing)} planned tensors never written, e.g. {missing[0]!r}")
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        self.sha256 = self._hash.hexdigest()

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()


def _to_bytes(value: mx.array) -> memoryview:
    mx.eval(value)
    if value.dtype == mx.bfloat16:
        value = value.view(mx.uint16)
    return memoryview(np.ascontiguousarray(np.asarray(value))).cast("B")
