"""Tensor-by-tensor access to an LM checkpoint: safetensors (validated header, one read per tensor)
or a PyTorch pickle, opened only through `torch.load(weights_only=True)` (never an unsafe load)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from moshi_mlx.errors import CheckpointError

from .safetensors_io import DTYPES, read_header, read_tensor

SAFETENSORS_SUFFIXES = (".safetensors", ".sft", ".sfts")
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


@dataclass(frozen=True)
class TensorMeta:
    name: str
    shape: tuple[int, ...]
    dtype: mx.Dtype
    nbytes: int


class SafetensorsReader:
    """Header validated by our own parser first (clear errors for truncated or corrupt files); the
    data then comes through MLX's lazy `mx.load`, which reads a tensor only when it is evaluated
    (no intermediate copy), or through our reader for what MLX cannot load."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._infos = read_header(self.path)
        self._f = open(self.path, "rb")
        try:
            self._lazy = mx.load(str(self.path))
        except (RuntimeError, ValueError):
            self._lazy = {}
        # file order: reading sequentially is kind to disks and to the page cache
        self.tensors = {i.name: TensorMeta(i.name, i.shape, i.mx_dtype, i.nbytes)
                        for i in sorted(self._infos.values(), key=lambda i: i.start)}

    def load(self, name: str) -> mx.array:
        """Each tensor once: the lazy array is handed over, so nothing here keeps it alive."""
        lazy = self._lazy.pop(name, None)
        if lazy is not None and lazy.dtype == self.tensors[name].dtype:
            return lazy
        return read_tensor(self.path, self._infos[name], self._f)

    def close(self) -> None:
        self._lazy = {}
        self._f.close()


class PickleReader:
    """A PyTorch checkpoint: a state dict, or Kyutai's training packages ({"model": ...} or
    {"fsdp_best_state": {"model": ...}}). Memory-mapped when the file is in torch's zip format."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            import torch
        except ImportError:
            raise CheckpointError(
                f"{path}: PyTorch pickles need torch installed (pip install torch); "
                "or convert the file to .safetensors") from None
        self._torch = torch
        try:
            try:
                obj = torch.load(self.path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as e:
                if "mmap" not in str(e):
                    raise
                obj = torch.load(self.path, map_location="cpu", weights_only=True)  # legacy format
        except Exception as e:  # torch raises many types for unsafe or corrupt pickles
            raise CheckpointError(f"{path}: not a loadable PyTorch weights file "
                                  f"(only weights_only=True loads are allowed): {e}") from None
        state = _find_state_dict(obj, torch)
        if state is None:
            raise CheckpointError(f"{path}: holds no state dict of tensors (top-level: {_describe(obj)})")
        self._state = state
        self.tensors = {k: TensorMeta(k, tuple(v.shape), _mx_dtype(v.dtype, k, path),
                                      v.numel() * v.element_size()) for k, v in state.items()}

    def load(self, name: str) -> mx.array:
        t = self._state[name].detach().contiguous()
        if t.dtype == self._torch.bfloat16:
            return mx.array(t.view(self._torch.int16).numpy()).view(mx.bfloat16)
        arr = mx.array(t.numpy())
        return arr.astype(mx.float32) if arr.dtype == mx.float64 else arr

    def close(self) -> None:
        self._state = {}


def open_reader(path: Path) -> SafetensorsReader | PickleReader:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix in PICKLE_SUFFIXES:
        return PickleReader(path)
    if path.suffix in SAFETENSORS_SUFFIXES:
        return SafetensorsReader(path)
    raise CheckpointError(f"{path}: unknown weights format {path.suffix!r} "
                          f"(expected {', '.join(SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES)})")


def _find_state_dict(obj, torch):
    def is_state(d):
        return isinstance(d, dict) and d and all(isinstance(v, torch.Tensor) for v in d.values())
    for candidate in (obj, _get(obj, "model"), _get(_get(obj, "fsdp_best_state"), "model"),
                      _get(obj, "state_dict")):
        if is_state(candidate):
            return candidate
    return None


def _get(obj, key):
    return obj.get(key) if isinstance(obj, dict) else None


def _describe(obj) -> str:
    if isinstance(obj, dict):
        return "dict with keys " + ", ".join(map(repr, list(obj)[:5]))
    return type(obj).__name__


def _mx_dtype(torch_dtype, name: str, path: Path) -> mx.Dtype:
    table = {"torch.bfloat16": "BF16", "torch.float16": "F16", "torch.float32": "F32",
             "torch.float64": "F64", "torch.int64": "I64", "torch.int32": "I32",
             "torch.int16": "I16", "torch.int8": "I8", "torch.uint8": "U8", "torch.bool": "BOOL"}
    st = table.get(str(torch_dtype))
    if st is None:
        raise CheckpointError(f"{path}: key {name!r} has unsupported dtype {torch_dtype}")
    return DTYPES[st][1]
