"""Depformer steps that share one weight set hold one copy of it.

Kyutai's TTS 1.6B has 32 depformer steps but 11 weight sets (`depformer_weights_per_step_schedule`
0..7, then 8 x 8, 9 x 8, 10 x 8): our names give every step its own `transformer` (and, with
`depformer_multi_linear`, its own `linear_in`), so a loader that reads each name into its own array
holds the shared sets 32 / 11 times over (at 4 bits, ~0.7 GB of the TTS's 2.1 GB). Here the tensors
of a step that shares its set with an earlier step are replaced by the earlier step's arrays, when
they are equal (always so for Kyutai's checkpoints: one PyTorch tensor is split into the steps)."""

from __future__ import annotations

from typing import MutableMapping

import mlx.core as mx

from .config import LmConfig


def shared_step_prefixes(config: LmConfig) -> list[tuple[str, str]]:
    """(prefix of a step's shared tensors, prefix of the first step using the same ones), e.g.
    ("depformer.slices.9.transformer.", "depformer.slices.8.transformer.")."""
    out = []
    for part, table in (("transformer", config.depformer_schedule), ("linear_in", config.depformer_in_index)):
        first: dict[int, int] = {}
        for k, index in enumerate(table):
            if index in first:
                out.append((f"depformer.slices.{k}.{part}.", f"depformer.slices.{first[index]}.{part}."))
            else:
                first[index] = k
    return out


def share_step_weights(weights: MutableMapping[str, mx.array], config: LmConfig) -> int:
    """In a name -> array dict (our names), point each shared step's tensor at the first step's
    array when both are equal (checked, one tensor at a time, so at most one duplicate is in
    memory). Returns the number of tensors now shared. Unequal tensors stay separate."""
    shared = 0
    for prefix, first in shared_step_prefixes(config):
        for name in [n for n in weights if n.startswith(prefix)]:
            source = first + name[len(prefix):]
            a, b = weights[name], weights.get(source)
            if b is None or a is b:
                shared += b is not None
                continue
            if a.shape == b.shape and a.dtype == b.dtype and bool(mx.array_equal(a, b)):
                weights[name] = b
                shared += 1
    return shared


def _parts(model):
    """(slice, part, first slice) for each shared step part of a built model."""
    out = []
    for prefix, first in shared_step_prefixes(model.config):
        _, _, k, part, _ = prefix.split(".")
        out.append((int(k), part, int(first.split(".")[2])))
    return out


def tie_step_weights(model, parts: list | None = None) -> int:
    """For a built model (random weights of a real shape, or after quantizing): each shared step's
    part takes the first step's arrays, equal or not (`parts`: only these, from tied_step_parts).
    Lazy arrays stay lazy: the duplicates are never computed. Returns the number of parts tied."""
    slices = model.depformer.slices
    parts = _parts(model) if parts is None else parts
    for k, part, j in parts:
        slices[k][part].update(slices[j][part].parameters())
    return len(parts)


def tied_step_parts(model) -> list:
    """The shared step parts whose arrays are the first step's own (tie_step_weights(model, parts)
    restores them after an operation that rebuilds the modules, such as nn.quantize)."""
    from mlx.utils import tree_flatten

    slices = model.depformer.slices
    out = []
    for k, part, j in _parts(model):
        mine, theirs = tree_flatten(slices[k][part].parameters()), tree_flatten(slices[j][part].parameters())
        if len(mine) == len(theirs) and all(a is b for (_, a), (_, b) in zip(mine, theirs)):
            out.append((k, part, j))
    return out


def unique_nbytes(arrays) -> int:
    """Bytes of `arrays`, each array object counted once (shared steps appear under several names)."""
    seen: dict[int, int] = {}
    for a in arrays:
        seen.setdefault(id(a), a.nbytes)
    return sum(seen.values())
