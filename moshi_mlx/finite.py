"""Weights holding NaN or infinite values are refused when they load, naming the tensor: one
reduction per tensor, evaluated together (the weights are read anyway), so a damaged file never runs
silently into NaN audio or garbage tokens."""

from __future__ import annotations

from typing import Mapping

from .errors import CheckpointError


def check_finite(weights: Mapping[str, object], source: str, what: str = "weights") -> None:
    """CheckpointError naming the first tensors of `weights` (name -> mx.array) that hold a NaN or
    an infinite value. Integer (quantized) tensors cannot and are skipped."""
    import mlx.core as mx
    import numpy as np

    names = [k for k, v in weights.items()
             if isinstance(v, mx.array) and mx.issubdtype(v.dtype, mx.floating) and v.size]
    if not names:
        return
    flags = mx.stack([mx.all(mx.isfinite(weights[k])) for k in names])
    mx.eval(flags)
    bad = [n for n, ok in zip(names, np.array(flags)) if not ok]
    if bad:
        more = f" (and {len(bad) - 1} more tensors)" if len(bad) > 1 else ""
        raise CheckpointError(f"{source}: tensor {bad[0]}{more} holds NaN or infinite values: the "
                              f"{what} file is damaged; download or convert it again")


def check_finite_pcm(pcm, what: str) -> None:
    """A MoshiError instead of NaN/inf audio samples written into `what`."""
    import numpy as np

    from .errors import MoshiError

    if not np.isfinite(pcm).all():
        raise MoshiError(f"{what}: the model produced NaN or infinite audio samples (damaged "
                         "weights?); nothing was written")
