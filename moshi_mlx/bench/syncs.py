"""Count the host syncs of a piece of code: the places where it forces MLX to evaluate and waits for
the result (`mx.eval`, `.item()`, `.tolist()`, `int()`/`float()`/`bool()` of an array, `np.array` /
`np.asarray` of an MLX array). For benchmarks only: the counting is done by patching those entry
points for the duration of a `with` block, nothing in the hot path knows about it.

    with count_host_syncs() as syncs:
        gen.step(user)
    syncs.total, syncs.by_kind  # e.g. 1, {"np.array": 1}

`mx.async_eval` is counted apart (`async_evals`): it submits work without waiting.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager


class SyncCount:
    def __init__(self):
        self.by_kind: Counter = Counter()
        self.async_evals = 0

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


@contextmanager
def count_host_syncs():
    import mlx.core as mx
    import numpy as np

    count = SyncCount()
    saved_module = {(mx, "eval"): mx.eval, (mx, "async_eval"): mx.async_eval,
                    (np, "array"): np.array, (np, "asarray"): np.asarray}
    saved_methods = {name: getattr(mx.array, name)
                     for name in ("item", "tolist", "__int__", "__float__", "__bool__", "__array__")
                     if hasattr(mx.array, name)}

    def counted(kind, fn, only_mlx_first_arg=False):
        def wrapper(*args, **kwargs):
            if not only_mlx_first_arg or (args and isinstance(args[0], mx.array)):
                count.by_kind[kind] += 1
            return fn(*args, **kwargs)
        return wrapper

    def async_eval(*args, **kwargs):
        count.async_evals += 1
        return saved_module[(mx, "async_eval")](*args, **kwargs)

    mx.eval = counted("mx.eval", saved_module[(mx, "eval")])
    mx.async_eval = async_eval
    np.array = counted("np.array", saved_module[(np, "array")], only_mlx_first_arg=True)
    np.asarray = counted("np.asarray", saved_module[(np, "asarray")], only_mlx_first_arg=True)
    patched = []
    for name, method in saved_methods.items():
        if name == "__array__":  # reached through np.array, already counted there
            continue
        try:
            setattr(mx.array, name, counted(f".{name.strip('_')}()", method))
            patched.append(name)
        except (AttributeError, TypeError):  # a binding that refuses: that kind goes uncounted
            pass
    try:
        yield count
    finally:
        for (module, name), fn in saved_module.items():
            setattr(module, name, fn)
        for name in patched:
            setattr(mx.array, name, saved_methods[name])


def syncs_per_step(gen, config, steps: int = 4) -> dict:
    """Host syncs of our steady-state step (after the delays filled), counted by patching the
    evaluation entry points around `steps` steps (see syncs.py)."""
    import numpy as np

    rng = np.random.default_rng(1)
    for _ in range(max(config.delays) + 2):  # past the warm-up frames and compilation
        gen.step(rng.integers(0, config.card, config.user_codebooks))
    with count_host_syncs() as count:
        for _ in range(steps):
            gen.step(rng.integers(0, config.card, config.user_codebooks))
    return {"per_step": count.total / steps, "async_evals_per_step": count.async_evals / steps,
            "by_kind": {k: v / steps for k, v in sorted(count.by_kind.items())}}
