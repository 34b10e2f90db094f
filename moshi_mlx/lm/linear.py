"""A full-precision linear layer whose one-row step is one graph node.

`nn.Linear` computes `x @ weight.T`: for a [B, T, in] input MLX records a transpose, a flatten, the
matmul and an unflatten, four nodes where a streaming step's cost is the count of its nodes (MLX's CPU
backend and a Mac GPU at these sizes). Once `prepare_linears` has laid the weight out as a row-major
[1, in, out] array (the `weight` parameter becomes a transposed view of it: same shape, name and
values, no second copy), an input with one batch row is multiplied by it directly: one node, the
same values (the same product, tests/lm/test_linear.py). Other inputs, and layers not prepared (or
whose weight was replaced since), take nn.Linear's path, and so do layers with a bias (one `addmm`
node there). Quantized layers are not touched.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


class Linear(nn.Linear):
    def __call__(self, x: mx.array) -> mx.array:
        rows = self._rows()
        if rows is None or x.ndim != 3 or x.shape[0] != 1:
            return super().__call__(x)
        return x @ rows

    def _rows(self) -> mx.array | None:
        kept = self.__dict__.get("_rows_kept")
        return kept[1] if kept is not None and kept[0] is self["weight"] else None

    def prepare(self, shared: dict) -> list[mx.array]:
        """Lay the weight out as [1, in, out] (idempotent). `shared`: layers holding one weight
        array (the depformer's tied steps) share its layout, keyed by the array's id."""
        if self._rows() is not None or "bias" in self:  # with a bias nn.Linear's addmm is one node
            return []
        weight = self["weight"]
        kept = shared.get(id(weight))
        if kept is None:
            rows = mx.contiguous(weight.T).reshape(1, *weight.shape[::-1])
            kept = shared[id(weight)] = (rows[0].T, rows, weight)  # the source kept: ids stay unique
        self["weight"] = kept[0]
        self.__dict__["_rows_kept"] = kept[:2]
        return [kept[0], kept[1]]


def prepare_linears(module: nn.Module) -> None:
    """Prepare every `Linear` under `module` (see the module docstring); evaluates the layouts."""
    shared: dict = {}
    arrays = [a for _, m in module.named_modules() if isinstance(m, Linear) for a in m.prepare(shared)]
    if arrays:
        mx.eval(arrays)
