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


def rows_layout(w: mx.array) -> tuple[mx.array, mx.array]:
    """w [out, in] -> (w as a transposed view of the second, [1, in, out] row-major): one buffer."""
    rows = mx.contiguous(w.T).reshape(1, *w.shape[::-1])
    return rows[0].T, rows


def times_transposed(x: mx.array, w: mx.array, rows: mx.array | None) -> mx.array:
    """x @ w.T, as one graph node when x has one batch row and `rows` (w's `rows_layout`) is given."""
    return x @ rows if rows is not None and x.ndim == 3 and x.shape[0] == 1 else x @ w.T


class Linear(nn.Linear):
    def __call__(self, x: mx.array) -> mx.array:
        rows = self._rows()  # prepared layers have no bias: their product is all there is
        return super().__call__(x) if rows is None else times_transposed(x, self["weight"], rows)

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
        if kept is None:  # the source kept in `shared`: ids stay unique while it lives
            kept = shared[id(weight)] = (*rows_layout(weight), weight)
        self["weight"] = kept[0]
        self.__dict__["_rows_kept"] = kept[:2]
        return [kept[0], kept[1]]


def prepare_linears(module: nn.Module) -> None:
    """Prepare every `Linear` under `module` (see the module docstring); evaluates the layouts."""
    shared: dict = {}
    arrays = [a for _, m in module.named_modules() if isinstance(m, Linear) for a in m.prepare(shared)]
    if arrays:
        mx.eval(arrays)
