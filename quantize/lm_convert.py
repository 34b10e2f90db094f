"""The LM weights, one tensor at a time: plan every output tensor from the input header alone (names
translated by moshi_mlx.lm.weights, shapes checked against the config), then read, translate, cast or
quantize and append each tensor to the output file. Peak memory is about one input tensor and its
outputs, whatever the size of the checkpoint."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mlx.core as mx

from moshi_mlx.errors import CheckpointError
from moshi_mlx.lm.config import LmConfig
from moshi_mlx.lm.weights import check_weights, expected_shapes, translate_pytorch_tensor

from .outdir import check_cancel
from .plan import Precision, QuantPlan
from .readers import PickleReader, SafetensorsReader
from .safetensors_io import PlannedTensor, StreamingWriter

_MIMI_PREFIXES = ("encoder.", "decoder.", "quantizer.", "encoder_transformer.", "downsample.")
_MLX_HINTS = (".scales", ".biases", "audio_embs.", "depformer.slices.", "out_norm.weight")


@dataclass(frozen=True)
class OutputTensor:
    name: str  # our (Kyutai MLX) name of the unquantized tensor
    shape: tuple[int, ...]
    precision: Precision | None  # None: written as a float (or integer) tensor


class LmLayout:
    """How a checkpoint's tensors map to ours: Moshi's names (this class) or a kind's own
    (MoshiVis: quantize/vis_layout.py). `extra_config`: what config.json needs beyond the LmConfig."""

    def __init__(self, config: LmConfig):
        self.config = config

    def check_source(self, reader) -> None:
        _check_is_moshi(reader)

    def translate(self, key: str, value: mx.array) -> list[tuple[str, mx.array]]:
        return translate_pytorch_tensor(key, value, self.config)

    def expected(self) -> dict[str, tuple[int, ...]]:
        return expected_shapes(self.config)

    def check(self, planned: dict, quantization: dict | None, source: str) -> None:
        check_weights(planned, self.config, quantization, source)

    def extra_config(self) -> dict:
        return {}


@dataclass
class LmStats:
    parameters: int = 0  # in the input checkpoint
    quantized: int = 0  # tensors quantized
    kept_float: int = 0  # 2-D weights (Linear/Embedding) written unquantized
    input_bytes: int = 0


def plan_outputs(reader: SafetensorsReader | PickleReader, config: LmConfig, plan: QuantPlan,
                 dtype: mx.Dtype, layout: LmLayout | None = None
                 ) -> tuple[dict[str, list[OutputTensor]], list[PlannedTensor], LmStats]:
    """From names and shapes only: what each input key becomes, the output file's tensors in
    writing order, and counts. Every problem names the input file and key."""
    path = reader.path
    layout = layout or LmLayout(config)
    layout.check_source(reader)
    expected = layout.expected()
    by_input: dict[str, list[OutputTensor]] = {}
    origin: dict[str, str] = {}
    stats = LmStats()
    unexpected = []
    for key, meta in reader.tensors.items():
        placeholder = mx.zeros(meta.shape, meta.dtype)  # lazy: never computed, only its shape is used
        try:
            outs = layout.translate(key, placeholder)
        except (CheckpointError, ValueError) as e:
            raise CheckpointError(f"{path}: key {key!r} {list(meta.shape)}: {e}") from None
        produced = []
        for name, value in outs:
            if name not in expected:
                unexpected.append(key)
                continue
            if tuple(value.shape) != expected[name]:
                raise CheckpointError(
                    f"{path}: key {key!r} has shape {list(meta.shape)}, which gives {name} "
                    f"{list(value.shape)}; the config (dim {config.dim}, {config.num_layers} layers) "
                    f"expects {list(expected[name])}")
            if name in origin:
                raise CheckpointError(f"{path}: keys {origin[name]!r} and {key!r} both give {name}")
            origin[name] = key
            if not _is_float(meta.dtype) and len(value.shape) == 2:
                raise CheckpointError(f"{path}: key {key!r} has dtype {meta.dtype}, expected a float weight")
            produced.append(OutputTensor(name, tuple(value.shape), plan.precision(name, tuple(value.shape))))
        by_input[key] = produced
        stats.input_bytes += meta.nbytes
    if unexpected:
        shown = ", ".join(repr(k) for k in unexpected[:6])
        raise CheckpointError(f"{path}: unexpected keys for a Moshi LM ({len(unexpected)}): {shown}")
    missing = [n for n in expected if n not in origin]
    if missing:
        shown = ", ".join(missing[:6]) + (f", ... ({len(missing)} in all)" if len(missing) > 6 else "")
        raise CheckpointError(f"{path}: missing weights for the config (dim {config.dim}, "
                              f"{config.num_layers} layers): {shown}")
    planned: list[PlannedTensor] = []
    for key, outs in by_input.items():
        stats.parameters += math.prod(reader.tensors[key].shape)
        for t in outs:
            planned.extend(_stored(t, reader.tensors[origin[t.name]].dtype, dtype))
            if t.precision is not None:
                stats.quantized += 1
            elif len(t.shape) == 2:
                stats.kept_float += 1
    # the same check the runtime loader makes, on the exact layout about to be written
    layout.check({p.name: p for p in planned}, plan.config_entry(), str(path))
    return by_input, planned, stats


def write_lm(reader, config: LmConfig, by_input: dict[str, list[OutputTensor]],
             planned: list[PlannedTensor], out_path: Path, dtype: mx.Dtype, mode: str,
             advance: Callable[[int], None], cancel: threading.Event | None,
             layout: LmLayout | None = None) -> tuple[int, str]:
    """Streams the conversion into `out_path`; returns (size, sha256)."""
    layout = layout or LmLayout(config)
    writer = StreamingWriter(out_path, planned)
    try:
        for key, outs in by_input.items():
            check_cancel(cancel)
            value = reader.load(key)
            _check_finite(reader.path, key, value)
            pairs = dict(layout.translate(key, value))
            for t in outs:
                for name, arr in _encode(t, pairs[t.name], dtype, mode):
                    writer.add(name, arr)
            del value, pairs
            advance(reader.tensors[key].nbytes)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return writer.size, writer.sha256


def _check_finite(path: Path, key: str, value: mx.array) -> None:
    """A NaN or infinite weight would make a model that outputs NaN: refuse, naming the tensor."""
    if not _is_float(value.dtype):
        return
    bad = mx.sum(mx.logical_not(mx.isfinite(value))).item()
    if bad:
        raise CheckpointError(f"{path}: tensor {key!r} holds {bad} NaN or infinite values (of "
                              f"{value.size}): the checkpoint is damaged; nothing was written")


def _encode(t: OutputTensor, value: mx.array, dtype: mx.Dtype, mode: str):
    if _is_float(value.dtype):
        value = value.astype(dtype)
    if t.precision is None:
        return [(t.name, value)]
    module = t.name[: -len(".weight")]
    wq, scales, biases = mx.quantize(value, group_size=t.precision.group_size, bits=t.precision.bits,
                                     mode=mode)
    return [(t.name, wq), (f"{module}.scales", scales), (f"{module}.biases", biases)]


def _stored(t: OutputTensor, in_dtype: mx.Dtype, dtype: mx.Dtype) -> list[PlannedTensor]:
    out_dtype = dtype if _is_float(in_dtype) else in_dtype
    if t.precision is None:
        return [PlannedTensor(t.name, out_dtype, t.shape)]
    # shapes exactly as mx.quantize produces them, found without computing anything
    wq, scales, biases = mx.quantize(mx.zeros(t.shape, out_dtype), group_size=t.precision.group_size,
                                     bits=t.precision.bits)
    module = t.name[: -len(".weight")]
    return [PlannedTensor(t.name, wq.dtype, tuple(wq.shape)),
            PlannedTensor(f"{module}.scales", scales.dtype, tuple(scales.shape)),
            PlannedTensor(f"{module}.biases", biases.dtype, tuple(biases.shape))]


def _check_is_moshi(reader) -> None:
    keys = list(reader.tensors)
    if not keys:
        raise CheckpointError(f"{reader.path}: holds no tensors: not a Moshi checkpoint")
    if any(k.endswith(_MLX_HINTS) or k.startswith(_MLX_HINTS) for k in keys):
        raise CheckpointError(f"{reader.path}: already an MLX checkpoint (e.g. key "
                              f"{next(k for k in keys if k.endswith(_MLX_HINTS) or k.startswith(_MLX_HINTS))!r}),"
                              " not a PyTorch one: it needs no conversion")
    if not any(k.startswith(("transformer.layers.", "text_emb.", "emb.")) for k in keys):
        what = "Mimi codec weights" if any(k.startswith(_MIMI_PREFIXES) for k in keys) else "tensors"
        raise CheckpointError(f"{reader.path}: not a Moshi LM checkpoint: its {len(keys)} {what} "
                              f"include no Moshi LM key (first key {keys[0]!r})")


def _is_float(dtype: mx.Dtype) -> bool:
    return dtype in (mx.bfloat16, mx.float16, mx.float32)
