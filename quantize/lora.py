"""moshi-finetune LoRA adapters merged into the base weights while converting: W' = W + scaling * B @ A
(rank and scaling from the config.json that moshi-finetune writes beside `lora.safetensors`).

Adapter keys name the in-memory modules of Kyutai's LMModel: `<module>.lora_A.weight` [rank, in] and
`<module>.lora_B.weight` [out, rank] for every Linear, attention projections as
`self_attn.in_projs.{i}` / `out_projs.{i}` (older adapters: `self_attn.in_proj` / `out_proj`), while
release checkpoints stack each attention's projections into one `in_proj_weight` / `out_proj.weight`
(rows of weight set i = block i). Full tensors in the adapter (embeddings trained with ft_embed)
replace the base's. Works on the checkpoint's own names, one tensor at a time, like the conversion:
a reader wrapper hands the converter merged tensors."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx

from moshi_mlx.errors import CheckpointError, ConfigError
from moshi_mlx.jsonfile import read_json_object

_LORA = re.compile(r"(.+)\.lora_([AB])\.weight")
_PROJS = re.compile(r"(.+)\.(in|out)_projs\.(\d+)")
_OLD = re.compile(r"(.+)\.(in|out)_proj")


@dataclass
class _Delta:
    module: str  # the adapter's module path
    block: int  # which row block of the base tensor (0 when the whole tensor)
    blocks: int  # into how many row blocks the base tensor is split


@dataclass
class LoraAdapter:
    path: Path
    rank: int
    scaling: float
    deltas: dict[str, list[_Delta]] = field(default_factory=dict)  # base key -> deltas
    replaced: dict[str, str] = field(default_factory=dict)  # base key -> adapter key


def read_lora_config(path: Path, config: Path | None = None) -> tuple[int, float]:
    config = config or path.parent / "config.json"
    if not config.is_file():
        raise ConfigError(f"{path}: no config.json beside it: moshi-finetune writes one with lora_rank "
                          "and lora_scaling (give it with --lora-config)")
    raw = read_json_object(config, ConfigError)
    rank, scaling = raw.get("lora_rank"), raw.get("lora_scaling")
    if rank is None or scaling is None:
        raise ConfigError(f"{config}: needs numeric 'lora_rank' and 'lora_scaling' (moshi-finetune's "
                          "LoRA settings)")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ConfigError(f"{config}: key 'lora_rank' is {rank!r}: expected an integer >= 1")
    if isinstance(scaling, bool) or not isinstance(scaling, (int, float)) or not math.isfinite(scaling):
        raise ConfigError(f"{config}: key 'lora_scaling' is {scaling!r}: expected a finite number")
    return rank, float(scaling)


def _base_target(module: str, base: dict) -> tuple[str, int, int] | None:
    """(base key, block, blocks) that an adapter module updates, or None."""
    if f"{module}.weight" in base:
        return f"{module}.weight", 0, 1
    if m := _PROJS.fullmatch(module):
        key = f"{m.group(1)}.in_proj_weight" if m.group(2) == "in" else f"{m.group(1)}.out_proj.weight"
        return (key, int(m.group(3)), -1) if key in base else None
    if m := _OLD.fullmatch(module):
        key = f"{m.group(1)}.in_proj_weight" if m.group(2) == "in" else f"{m.group(1)}.out_proj.weight"
        return (key, 0, 1) if key in base else None
    return None


def open_adapter(path: str | Path, base: dict, config: str | Path | None = None) -> tuple[LoraAdapter, object]:
    """Match every adapter tensor to the base checkpoint (`base`: key -> TensorMeta), checking
    shapes; returns the adapter and its reader. Nothing is computed yet."""
    from .readers import SafetensorsReader

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such LoRA adapter file")
    if not path.is_file() or path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: a LoRA adapter must be a .safetensors file (moshi-finetune's "
                              "lora.safetensors)")
    rank, scaling = read_lora_config(path, Path(config) if config else None)
    reader = SafetensorsReader(path)
    if not reader.tensors:
        raise CheckpointError(f"{path}: the LoRA adapter holds no tensors: nothing to merge")
    adapter = LoraAdapter(path, rank, scaling)
    modules: dict[str, dict[str, tuple]] = {}
    unknown = []
    for key, meta in reader.tensors.items():
        if m := _LORA.fullmatch(key):
            modules.setdefault(m.group(1), {})[m.group(2)] = meta.shape
        elif key in base and tuple(base[key].shape) == tuple(meta.shape):
            adapter.replaced[key] = key
        else:
            unknown.append(key)
    per_key: dict[str, list[_Delta]] = {}
    for module, parts in modules.items():
        target = _base_target(module, base)
        if target is None or set(parts) != {"A", "B"}:
            unknown.append(f"{module}.lora_*")
            continue
        a, b = parts["A"], parts["B"]
        if len(a) != 2 or len(b) != 2 or a[0] != rank or b[1] != rank:
            raise CheckpointError(f"{path}: {module}: lora_A {list(a)} and lora_B {list(b)} do not have "
                                  f"rank {rank} (config.json lora_rank)")
        per_key.setdefault(target[0], []).append(_Delta(module, target[1], target[2]))
    if unknown:
        raise CheckpointError(f"{path}: {len(unknown)} adapter tensors match nothing in the base "
                              f"checkpoint (a LoRA of another model?): {', '.join(unknown[:5])}")
    for key, deltas in per_key.items():
        rows, cols = base[key].shape
        blocks = max(d.block for d in deltas) + 1 if deltas[0].blocks == -1 else 1
        for d in deltas:
            d.blocks = blocks
            a, b = modules[d.module]["A"], modules[d.module]["B"]
            if rows % blocks or b[0] != rows // blocks or a[1] != cols:
                raise CheckpointError(f"{path}: {d.module}: B @ A is [{b[0]}, {a[1]}], the base "
                                      f"{key} {[rows, cols]} in {blocks} block(s) needs "
                                      f"[{rows // blocks}, {cols}]")
        adapter.deltas[key] = deltas
    from moshi_mlx.finite import check_finite

    check_finite({k: reader.load(k) for k in reader.tensors}, str(path), "LoRA adapter")  # small
    return adapter, reader


class MergedReader:
    """A checkpoint reader whose tensors come out with the adapter merged in (same names, shapes
    and dtypes as the base)."""

    def __init__(self, base, lora_path: str | Path, config: str | Path | None = None):
        self.base = base
        self.path = base.path
        self.tensors = base.tensors
        self.adapter, self._lora = open_adapter(lora_path, base.tensors, config)

    def load(self, name: str) -> mx.array:
        a = self.adapter
        if name in a.replaced:
            return self._lora.load(a.replaced[name]).astype(self.tensors[name].dtype)
        value = self.base.load(name)
        deltas = a.deltas.get(name)
        if not deltas:
            return value
        merged = value.astype(mx.float32)
        rows = merged.shape[0] // deltas[0].blocks
        for d in deltas:
            lora_a = self._lora.load(f"{d.module}.lora_A.weight").astype(mx.float32)
            lora_b = self._lora.load(f"{d.module}.lora_B.weight").astype(mx.float32)
            start = d.block * rows
            merged[start:start + rows] = merged[start:start + rows] + a.scaling * (lora_b @ lora_a)
        merged = merged.astype(value.dtype)
        mx.eval(merged)
        return merged

    def close(self) -> None:
        self._lora.close()
        self.base.close()
