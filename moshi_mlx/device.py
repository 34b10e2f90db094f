"""Per-device compute choices. Nothing here hard-codes a device: it asks MLX what it runs on."""

from __future__ import annotations

import mlx.core as mx


def on_gpu() -> bool:
    """True when MLX's default device is a GPU (Metal on a Mac, CUDA elsewhere)."""
    return mx.default_device().type == mx.DeviceType.gpu


_forced: list = []  # force_activation_dtype's choice, if any


def activation_dtype() -> mx.Dtype:
    """bf16 activations on a GPU; fp32 on the CPU backend, where quantized matmuls with bf16
    activations are ~8x slower than with fp32."""
    if _forced:
        return _forced[0]
    return mx.bfloat16 if on_gpu() else mx.float32


def force_activation_dtype(dtype: mx.Dtype | None) -> None:
    """Make activation_dtype() return `dtype` in this process (None: the device's own again): a
    benchmark measuring a Mac's bf16 memory on the CPU backend."""
    _forced[:] = [dtype] if dtype is not None else []


def parse_dtype(name: str | None) -> mx.Dtype | None:
    """'bf16' | 'fp16' | 'fp32' (or the long names) -> mx dtype; None stays None."""
    if name is None:
        return None
    table = {"bf16": mx.bfloat16, "bfloat16": mx.bfloat16, "fp16": mx.float16, "float16": mx.float16,
             "fp32": mx.float32, "float32": mx.float32}
    try:
        return table[name.lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}: use bf16, fp16 or fp32") from None
