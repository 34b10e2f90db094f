"""Embedding tables shaped for one-token-per-stream lookups.

A frame's input is one token per stream (text + 16 audio streams for Moshi), each with its own
table. Looking them up one table at a time costs a gather and, when quantized, a dequantization per
stream: on MLX's CPU backend that is ~550 graph nodes per frame, more than all else in the temporal
step bar the layers. `StackedEmbedding` keeps the tables as one (the modules then hold views of it,
so the memory is not doubled) and looks a whole frame up at once."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from .linear import Linear

Table = nn.Embedding | nn.QuantizedEmbedding


def _quantization(module: Table):
    if isinstance(module, nn.QuantizedEmbedding):
        return module.bits, module.group_size, getattr(module, "mode", "affine")
    return None


def _arrays(module: Table) -> dict[str, mx.array]:
    return {k: module[k] for k in ("weight", "scales", "biases") if k in module}


class StackedEmbedding:
    """Tables of one width stacked along the rows; `lookup(tokens)` -> rows [B, S, dim] with token
    -1 ("no input" in Kyutai's models) giving zeros. The modules are re-pointed at their slices."""

    def __init__(self, modules: list[Table], dtype: mx.Dtype):
        self.dtype = dtype
        quant = {_quantization(m) for m in modules}
        dtypes = {tuple(a.dtype for a in _arrays(m).values()) for m in modules}
        widths = {m.weight.shape[1] for m in modules}
        if len(quant) != 1 or len(dtypes) != 1 or len(widths) != 1:
            raise ValueError("stacked tables must share width, dtype and quantization")
        self.quantization = quant.pop()
        sizes = [m.weight.shape[0] for m in modules]
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        self.offsets = mx.array(starts, dtype=mx.int32)
        names = list(_arrays(modules[0]))
        self.tables = {n: mx.concatenate([m[n] for m in modules]) for n in names}
        mx.eval(self.tables)
        for m, start, size in zip(modules, starts, sizes):  # views: the stacked copy is the only one
            m.update({n: t[start:start + size] for n, t in self.tables.items()})
            mx.eval(m.parameters())
        self._views = [[id(m[n]) for n in names] for m in modules]
        self._modules = modules

    def is_current(self) -> bool:
        """False once a module's weights were replaced (load_weights after stacking)."""
        return all([id(m[n]) for n in self.tables] == ids for m, ids in zip(self._modules, self._views))

    def lookup(self, tokens: mx.array, tables: tuple[int, ...] | None = None) -> mx.array:
        """Rows for tokens [..., S]: column i from table i, or from table `tables[i]`."""
        is_none = (tokens == -1)[..., None]
        offsets = self.offsets if tables is None else self.offsets[mx.array(tables)]
        rows = mx.maximum(tokens, 0) + offsets
        if self.quantization is None:
            x = self.tables["weight"][rows]
        else:
            bits, group_size, mode = self.quantization
            biases = self.tables.get("biases")
            x = mx.dequantize(self.tables["weight"][rows], self.tables["scales"][rows],
                              None if biases is None else biases[rows],
                              group_size=group_size, bits=bits, mode=mode)
        return mx.where(is_none, mx.zeros((), x.dtype), x).astype(self.dtype)


def dequantized_table(module: Table, dtype: mx.Dtype) -> mx.array:
    """The module's table as a plain [rows, dim] array in `dtype` (the module's own array when it is
    unquantized and already in `dtype`)."""
    q = _quantization(module)
    if q is None:
        w = module.weight
    else:
        bits, group_size, mode = q
        w = mx.dequantize(module.weight, module.scales, module.get("biases"), group_size=group_size,
                          bits=bits, mode=mode)
    return w if w.dtype == dtype else w.astype(dtype)


class TextDemux(nn.Module):
    """Kyutai's `demux_second_stream`: a text token t = main + (second + 1) * card (card = the text
    table's rows) carries a second (look-ahead) text token; both rows come from the same table and
    are projected by out1 and out2 (Linear width -> dim) and summed."""

    def __init__(self, width: int, dim: int):
        super().__init__()
        self.out1 = Linear(width, dim, bias=False)
        self.out2 = Linear(width, dim, bias=False)


def demux_tokens(tokens: mx.array, card: int) -> tuple[mx.array, mx.array]:
    """Muxed text tokens -> (main, second) table rows, -1 (zero embedding) where absent."""
    none = tokens < 0
    main = mx.where(none, -1, tokens % card)
    second = mx.where(none, -1, tokens // card - 1)
    return main, second
