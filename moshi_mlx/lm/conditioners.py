"""Conditions: values that steer the whole generation (Hibiki's "very_good" description, TTS's cfg
value and speaker embeddings), following Kyutai's conditioners.

A LUT conditioner maps one value from a fixed list to a vector; a tensor conditioner projects a
tensor (speaker embeddings [T, dim]) to the model width. Missing values and masked positions get a
learnt padding vector. The fuser sums some conditions into every frame's input (`sum`) and gives
the others to the temporal layers' cross-attention (`cross`), with a sinusoidal position embedding.
Conditions are computed once per conversation, outside the compiled frame (float32, as Kyutai's
provider), and passed into it as arrays."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ..errors import ConfigError

_FUSE_METHODS = ("sum", "cross", "prepend")


@dataclass(frozen=True)
class ConditionerSpec:
    name: str
    kind: str  # "lut" | "tensor"
    dim: int  # LUT: table width; tensor: input width
    n_bins: int = 0
    possible_values: tuple[str, ...] | None = None


def conditioner_specs(config) -> list[ConditionerSpec]:
    """The conditioners of a config (raises ConfigError on a malformed entry)."""
    out = []
    for name, entry in (config.conditioners or {}).items():
        if not isinstance(entry, Mapping) or entry.get("type") not in ("lut", "tensor"):
            raise ConfigError(f"conditioners.{name}: expected {{'type': 'lut' or 'tensor', ...}}")
        kind = entry["type"]
        args = entry.get(kind)
        if not isinstance(args, Mapping) or not isinstance(args.get("dim"), int) or args["dim"] < 1:
            raise ConfigError(f"conditioners.{name}.{kind}: needs a positive integer 'dim'")
        if kind == "tensor":
            out.append(ConditionerSpec(name, kind, args["dim"]))
            continue
        n_bins, values = args.get("n_bins"), args.get("possible_values")
        if not isinstance(n_bins, int) or n_bins < 1:
            raise ConfigError(f"conditioners.{name}.lut: needs a positive integer 'n_bins'")
        if args.get("tokenizer", "noop") != "noop":
            raise ConfigError(f"conditioners.{name}.lut: tokenizer {args['tokenizer']!r} is not "
                              "supported (only 'noop')")
        if values is not None:
            if not isinstance(values, (list, tuple)) or len(values) > n_bins:
                raise ConfigError(f"conditioners.{name}.lut: possible_values must be a list of at "
                                  f"most n_bins={n_bins} strings")
            values = tuple(str(v) for v in values)
        out.append(ConditionerSpec(name, kind, args["dim"], n_bins, values))
    return out


@dataclass(frozen=True)
class FusePlan:
    sum: tuple[str, ...] = ()
    cross: tuple[str, ...] = ()
    cross_pos_emb: bool = False
    cross_pos_emb_scale: float = 1.0


def fuse_plan(config) -> FusePlan:
    fuser = config.fuser or {}
    return FusePlan(tuple(fuser.get("sum") or ()), tuple(fuser.get("cross") or ()),
                    bool(fuser.get("cross_attention_pos_emb", False)),
                    float(fuser.get("cross_attention_pos_emb_scale", 1.0)))


def check_conditioning(config) -> list[str]:
    """Problems of the conditioners / fuser / cross_attention entries of a config (for LmConfig)."""
    try:
        specs = {s.name: s for s in conditioner_specs(config)}
    except ConfigError as e:
        return [str(e)]
    fuser = config.fuser or {}
    if not isinstance(fuser, Mapping):
        return ["fuser must be an object"]
    problems = [f"fuser.{k}: unknown fusing method (sum, cross)" for k in fuser
                if k not in _FUSE_METHODS and not k.startswith("cross_attention_pos_emb")]
    if fuser.get("prepend"):
        problems.append("fuser.prepend is not supported (no released model uses it)")
    plan = fuse_plan(config)
    fused = set(plan.sum) | set(plan.cross)
    problems += [f"fuser names {n!r}, which is not among the conditioners" for n in sorted(fused - set(specs))]
    problems += [f"conditioner {n!r} is not used by the fuser (sum or cross)" for n in sorted(set(specs) - fused)]
    if plan.cross and not config.cross_attention:
        problems.append("fuser.cross names conditions but cross_attention is false")
    if config.cross_attention and not plan.cross:
        problems.append("cross_attention is true but the fuser has no cross conditions")
    return problems


class LutConditioner(nn.Module):
    """One value out of `possible_values` (or hashed into n_bins) -> [1, 1, out_dim]."""

    def __init__(self, spec: ConditionerSpec, out_dim: int):
        super().__init__()
        self.spec = spec
        self.embed = nn.Embedding(spec.n_bins + 1, spec.dim)  # the last row: no value
        self.output_proj = nn.Linear(spec.dim, out_dim, bias=False)
        self.learnt_padding = mx.zeros((1, 1, out_dim))

    def index(self, value: str | None) -> int | None:
        spec = self.spec
        if value is None:
            return None
        if spec.possible_values is None:  # Kyutai's hash trick
            return int(hashlib.sha256(value.encode("utf-8")).hexdigest(), 16) % spec.n_bins
        if value not in spec.possible_values:
            raise ConfigError(f"condition {spec.name!r}: {value!r} is not one of "
                              f"{', '.join(spec.possible_values)}")
        return spec.possible_values.index(value)

    def __call__(self, value: str | None) -> mx.array:
        index = self.index(value)
        if index is None:
            return self.learnt_padding.astype(mx.float32)
        row = self.embed(mx.array([[index]]))
        return self.output_proj(row).astype(mx.float32)


class TensorConditioner(nn.Module):
    """A tensor [B, T, dim] with a mask [B, T] -> [B, T, out_dim]; masked positions get the padding."""

    def __init__(self, spec: ConditionerSpec, out_dim: int):
        super().__init__()
        self.spec = spec
        self.output_proj = nn.Linear(spec.dim, out_dim, bias=False)
        self.learnt_padding = mx.zeros((1, 1, out_dim))

    def __call__(self, tensor: mx.array, mask: mx.array) -> mx.array:
        if tensor.ndim != 3 or tensor.shape[-1] != self.spec.dim:
            raise ConfigError(f"condition {self.spec.name!r}: expected a tensor [batch, time, "
                              f"{self.spec.dim}], got {list(tensor.shape)}")
        cond = self.output_proj(tensor.astype(mx.float32))
        keep = mask.astype(mx.float32)[..., None]
        return cond * keep + self.learnt_padding.astype(mx.float32) * (1 - keep)


class ConditionProvider(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.conditioners = {
            s.name: (LutConditioner if s.kind == "lut" else TensorConditioner)(s, config.dim)
            for s in conditioner_specs(config)}


def sin_embedding(length: int, dim: int, max_period: float = 10_000) -> mx.array:
    """Kyutai's sinusoidal position embedding [1, length, dim]: cos then sin halves."""
    half = dim // 2
    phase = np.arange(length, dtype=np.float32)[:, None] / (
        np.float32(max_period) ** (np.arange(half, dtype=np.float32) / (half - 1)))
    return mx.array(np.concatenate([np.cos(phase), np.sin(phase)], axis=-1)[None])


@dataclass
class Conditions:
    """Per batch row (CFG rows included): `sum` [B, 1, dim] added to each frame's input, `cross`
    [B, T, dim] read by the cross-attention (None when the model has none)."""

    sum: mx.array | None = None
    cross: mx.array | None = None

    @property
    def batch(self) -> int | None:
        first = self.sum if self.sum is not None else self.cross
        return None if first is None else first.shape[0]


Value = Any  # str | None for a LUT; (tensor [T, dim] or [1, T, dim], mask [T] or None) for a tensor


def make_conditions(model, rows: Sequence[Mapping[str, Value]], dtype: mx.Dtype) -> Conditions:
    """Conditions for a batch: one mapping per row from conditioner name to its value. Every
    conditioner needs a value (None = the padding: no condition)."""
    provider = getattr(model, "condition_provider", None)
    if provider is None:
        if any(rows):
            raise ConfigError("this model takes no conditions")
        return Conditions()
    plan = fuse_plan(model.config)
    names = set(provider.conditioners)
    outputs: dict[str, list[mx.array]] = {n: [] for n in names}
    for row in rows:
        missing, unknown = names - set(row), set(row) - names
        if missing or unknown:
            raise ConfigError(f"conditions: missing {sorted(missing)}, unknown {sorted(unknown)} "
                              f"(this model takes {sorted(names)})")
        for name, value in row.items():
            module = provider.conditioners[name]
            if isinstance(module, LutConditioner):
                outputs[name].append(module(value))
            else:
                outputs[name].append(_tensor_condition(module, value))
    summed = None
    for name in plan.sum:
        part = mx.concatenate(outputs[name], axis=0)
        summed = part if summed is None else summed + part
    cross = None
    if plan.cross:
        cross = mx.concatenate([mx.concatenate(outputs[n], axis=0) for n in plan.cross], axis=1)
        if plan.cross_pos_emb:
            cross = cross + plan.cross_pos_emb_scale * sin_embedding(cross.shape[1], cross.shape[2])
    out = Conditions(None if summed is None else summed.astype(dtype),
                     None if cross is None else cross.astype(dtype))
    mx.eval([a for a in (out.sum, out.cross) if a is not None])
    return out


def _tensor_condition(module: TensorConditioner, value) -> mx.array:
    if value is None:  # no tensor at all: one padded position
        return module.learnt_padding.astype(mx.float32)
    tensor, mask = value if isinstance(value, tuple) else (value, None)
    tensor = mx.array(tensor)
    if tensor.ndim == 2:
        tensor = tensor[None]
    if mask is None:
        mask = mx.ones(tensor.shape[:2], dtype=mx.bool_)
    mask = mx.array(mask)
    if mask.ndim == 1:
        mask = mask[None]
    return module(tensor, mask)


def null_row(row: Mapping[str, Value]) -> dict[str, Value]:
    """Every condition of `row` dropped, as Kyutai's CFG 'null' row: no LUT value, and tensors of
    the same shape fully masked (each position then holds the learnt padding)."""
    out: dict[str, Value] = {}
    for name, value in row.items():
        if value is None or isinstance(value, str):
            out[name] = None
        else:
            tensor = np.asarray(value[0] if isinstance(value, tuple) else value)
            out[name] = (np.zeros_like(tensor), np.zeros(tensor.shape[:-1], dtype=bool))
    return out
