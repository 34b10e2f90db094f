"""Read the tensors of a PyTorch `torch.save` file without executing anything from it and without
torch (the app has no torch).

A `.pt` file is a zip archive: `<name>/data.pkl` (a pickle describing the objects) and one raw
buffer per tensor storage (`<name>/data/<key>`). Unpickling an untrusted pickle can run any code,
because the pickle names callables that the unpickler calls. Here the unpickler resolves only the
three names a plain tensor dict needs (torch's tensor rebuild function, its storage types and
OrderedDict) to functions of ours that build numpy arrays from the raw buffers; any other name
(os.system, builtins.eval, a class of some package...) stops the read before anything is called.
This is the "restricting globals" approach of Python's pickle documentation, and what
`torch.load(weights_only=True)` does with its own allow-list."""

from __future__ import annotations

import io
import math
import pickle
import zipfile
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

# torch storage type name -> numpy dtype of its raw buffer (bfloat16 kept as its uint16 bits)
_STORAGES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class UnsafePickleError(CheckpointError):
    """The pickle names something other than plain tensors: it is refused, nothing was run."""


class RawTensor:
    """A tensor read from the file: `array` (numpy; bfloat16 as uint16 bits) and its torch dtype."""

    def __init__(self, array: np.ndarray, dtype: str):
        self.array, self.dtype = array, dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def float32(self) -> np.ndarray:
        if self.dtype == "BFloat16Storage":
            return (self.array.astype(np.uint32) << 16).view(np.float32)
        return self.array.astype(np.float32)


class _StorageType:
    def __init__(self, name: str):
        self.name = name


class _Storage:
    def __init__(self, data: np.ndarray, kind: str):
        self.data, self.kind = data, kind


# A voice prompt is a few MB; nothing a voice file holds comes near these. Checked before any
# allocation: a tiny file must not make us allocate gigabytes.
MAX_STORAGE_BYTES = 256 << 20  # one storage, decompressed
MAX_PICKLE_BYTES = 16 << 20


def _rebuild_tensor(storage, offset, size, stride, *_ignored) -> RawTensor:
    if not isinstance(storage, _Storage):
        raise UnsafePickleError("a tensor without a storage")
    data, item = storage.data, storage.data.itemsize
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if any(s < 0 for s in size + stride) or offset < 0:
        raise UnsafePickleError("negative tensor size, stride or offset")
    last = offset + sum((n - 1) * st for n, st in zip(size, stride)) if all(size) else offset - 1
    if last >= len(data):
        raise UnsafePickleError(f"tensor of size {list(size)} reaches past its storage ({len(data)} items)")
    if math.prod(size) > len(data):  # a view repeating its storage (stride 0): would allocate more
        raise UnsafePickleError(f"tensor of size {list(size)} has more items than its storage "
                                f"({len(data)}): refused before allocating it")
    view = np.lib.stride_tricks.as_strided(data[offset:], shape=size, strides=[s * item for s in stride])
    return RawTensor(np.array(view), storage.kind)


def _ordered_dict(*args):
    return dict(*args)


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, source: str):
        super().__init__(file)
        self.archive, self.prefix, self.source = archive, prefix, source

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return _ordered_dict
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        raise UnsafePickleError(f"{self.source}: refused: the pickle wants to call {module}.{name}, "
                                "which a file of plain tensors never needs (nothing was run)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise UnsafePickleError(f"{self.source}: refused: unknown persistent object {pid!r:.80}")
        kind, key = pid[1].name, str(pid[2])
        name = f"{self.prefix}/data/{key}"
        try:
            size = self.archive.getinfo(name).file_size
        except KeyError:
            raise CheckpointError(f"{self.source}: storage {key} is missing from the archive") from None
        if size > MAX_STORAGE_BYTES:
            raise CheckpointError(f"{self.source}: storage {key} would take {size / 2**20:.0f} MB, more "
                                  f"than a voice file can hold ({MAX_STORAGE_BYTES >> 20} MB): refused "
                                  "before reading it")
        raw = self.archive.read(name)
        dtype = np.dtype(_STORAGES[kind]).newbyteorder("<")
        if len(raw) % dtype.itemsize:
            raise CheckpointError(f"{self.source}: storage {key} has {len(raw)} bytes, not a whole "
                                  f"number of {kind} items")
        return _Storage(np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("=")), kind)


def read_torch_file(path: str | Path, data: bytes | None = None):
    """The object saved in a torch zip file (dicts, lists, numbers, strings and RawTensor), read
    without executing anything; `data`: the file's bytes when it is not on disk (a tar member)."""
    source = str(path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if data is not None else path)
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(f"{source}: not a PyTorch file in torch.save's zip format ({e})") from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(f"{source}: not a PyTorch file (no single <name>/data.pkl inside)")
        prefix = pickles[0].split("/")[0]
        order = archive.read(f"{prefix}/byteorder").decode().strip() if f"{prefix}/byteorder" in \
            archive.namelist() else "little"
        if order != "little":
            raise CheckpointError(f"{source}: big-endian tensors are not supported")
        if archive.getinfo(pickles[0]).file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(f"{source}: its pickle is larger than {MAX_PICKLE_BYTES >> 20} MB: "
                                  "not a voice file")
        try:
            return _SafeUnpickler(io.BytesIO(archive.read(pickles[0])), archive, prefix, source).load()
        except CheckpointError:
            raise
        except Exception as e:  # a malformed pickle: truncated, wrong opcodes...
            raise CheckpointError(f"{source}: unreadable pickle ({type(e).__name__}: {e})") from None
