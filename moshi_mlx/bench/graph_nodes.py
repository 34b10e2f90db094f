"""Count the primitive nodes of one frame's compiled graph: what a frame costs in dispatch on MLX's
CPU backend (and on a Mac GPU at small widths), where each node, not its arithmetic, is the price.

The frame function an LmGen would call next is called once without evaluating its outputs; the
lazy graph behind them (the compiled tape, elementwise chains already fused into `Compiled...`
nodes) is written with `mx.export_to_dot` and its primitive nodes are counted by name. Nothing is
evaluated and the generator's state is left as it was (its caches are only read).

    counts = frame_graph_nodes(gen)
    sum(counts.values()), counts.most_common(5)
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter

_NODE = re.compile(r'\{ \d+ \[label ="([^"]*)", shape=rectangle\]')


def graph_nodes(*outputs) -> Counter:
    """Primitive nodes, by name, of the unevaluated graph behind `outputs` (MLX arrays)."""
    import mlx.core as mx

    fd, path = tempfile.mkstemp(suffix=".dot")
    os.close(fd)
    try:
        mx.export_to_dot(path, *outputs)
        with open(path, encoding="utf-8") as f:
            return Counter(_NODE.findall(f.read()))
    finally:
        os.remove(path)


def frame_graph_nodes(gen, part: str = "frame") -> Counter:
    """Nodes of the compiled frame function `gen` calls at its current offset (part "frame": the
    temporal step, text sampling and every depformer step; "text": up to the text token)."""
    import mlx.core as mx

    inputs = gen.buffer.input(gen._offset)
    args = [gen._rows(inputs), mx.array(gen._offset, dtype=mx.int32), gen._key, gen._cfg,
            *gen._cond, *gen._cross_now(), *gen._kv]
    outputs = gen._fn(gen._length(), part)(*args)
    return graph_nodes(*outputs)
