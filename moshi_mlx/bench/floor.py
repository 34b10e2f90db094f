"""The matmul floor of an LM step: every linear layer of a model applied once, nothing else.

Imports nothing but MLX, so Kyutai's baseline runner (kyutai_lm.py, which cannot import our package:
it has the same import name) loads this file by path and measures its own model's floor with the
same code."""

from __future__ import annotations

import time

import mlx.core as mx
import mlx.nn as nn


def matmul_floor(model: nn.Module, dtype: mx.Dtype):
    """A compiled function doing only the frame's linear layers (each once, as a step does), on
    inputs of their widths: the arithmetic floor of a step, the same kernels for any
    implementation. At small widths on MLX's CPU backend this, not dispatch, is most of a step."""

    def in_width(m) -> int:  # a quantized weight packs 32 // bits values per uint32
        return m.weight.shape[1] * (32 // m.bits if isinstance(m, nn.QuantizedLinear) else 1)

    layers = [m for _, m in model.named_modules() if isinstance(m, (nn.Linear, nn.QuantizedLinear))]
    inputs = {w: mx.random.normal((1, 1, w)).astype(dtype) for w in {in_width(m) for m in layers}}
    mx.eval(inputs)

    def run():
        return mx.stack([m(inputs[in_width(m)]).sum() for m in layers])

    return mx.compile(run)


def time_floor(floor, runs: int, warmup: int = 2) -> list[float]:
    """ms per evaluation of `floor` (a `matmul_floor` function), `runs` times after `warmup`."""
    times = []
    for i in range(runs + warmup):
        t = time.perf_counter()
        mx.eval(floor())
        if i >= warmup:
            times.append(1000 * (time.perf_counter() - t))
    return times
