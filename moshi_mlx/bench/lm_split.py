"""`bench lm`'s split of one step into its parts (temporal, depformer, sampling, the matmul floor)
and its guidance comparison (`--compare-cfg`)."""

from __future__ import annotations

import time

from .lm_models import bench_conditions, time_steps
from .stats import timing_stats

def time_split(model, config, dtype, steps: int, warmup: int, gen) -> dict:
    """Each part compiled and evaluated on its own (so the parts include their own sync). The
    temporal part attends to the same cache prefix as the generator does over these steps."""
    import mlx.core as mx

    from ..lm.kv_cache import caches_over

    length = next((n for n in gen._lengths if n > steps + warmup), None)

    cond_sum = gen._cond[0] if gen._cond else None
    cross = gen._cross or None
    count = gen.codebooks

    def temporal_fn(tok, off, *kv):
        kv = caches_over(kv, gen.kv_bits, gen._kv.layers[0].group_size)
        out, text_logits, kv = model.temporal(tok, kv, off, dtype, length, cond_sum, cross)
        return (out, text_logits, *kv)

    temporal = mx.compile(temporal_fn)
    depformer = mx.compile(lambda out, text: model.depformer_sample(
        out, text, lambda logits, key: mx.argmax(logits, axis=-1).astype(mx.int32),
        [mx.zeros((2,), dtype=mx.uint32)] * count, count,
        lambda logits: logits[:1]))

    def sample_all(text_logits, audio_logits, key):
        keys = mx.random.split(key, count + 1)
        tokens = [gen.text_sampler(text_logits[:1], keys[0])]
        tokens += [gen.audio_sampler(audio_logits[:, k], keys[k + 1]) for k in range(count)]
        return mx.stack(tokens, axis=1)

    sampling = mx.compile(sample_all)
    from .floor import matmul_floor

    matmuls = matmul_floor(model, dtype)
    kv = model.make_cache(gen.rows, dtype, gen.kv_bits)
    tokens = mx.zeros((gen.rows, config.num_codebooks), dtype=mx.int32)
    audio_logits = mx.random.normal((1, count, config.card)).astype(dtype)
    times = {"temporal": [], "depformer": [], "sampling": [], "matmuls": []}
    key = mx.random.key(0)
    for i in range(steps + warmup):
        t0 = time.perf_counter()
        out, text_logits, *kv = temporal(tokens, mx.array(i, dtype=mx.int32), *kv)
        mx.eval(out, text_logits, *kv)
        t1 = time.perf_counter()
        text = mx.zeros((1,), dtype=mx.int32)
        mx.eval(depformer(out, text))
        t2 = time.perf_counter()
        key = mx.random.split(key, 1)[0]
        mx.eval(sampling(text_logits, audio_logits, key))
        t3 = time.perf_counter()
        mx.eval(matmuls())
        t4 = time.perf_counter()
        if i >= warmup:
            for name, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[name].append(1000 * dt)
    return {name: timing_stats(v) for name, v in times.items()}


def compare_cfg(args, model, gen, config, dtype) -> dict:
    """Our step with guidance (`gen`, two rows in one compiled frame) and without (cfg 1),
    alternated ABBA `args.repeats` times: median ms per run and the ratio of the medians."""
    import numpy as np

    from ..lm import LmGen

    if gen.rows == 1:
        from ..errors import MoshiError
        raise MoshiError("--compare-cfg needs --cfg-coef other than 1")
    plain = LmGen(model, seed=0, dtype=dtype, conditions=bench_conditions(model, 1.0, dtype))
    runs = {"cfg": [], "plain": []}
    for r in range(args.repeats):
        for name in ("cfg", "plain") if r % 2 == 0 else ("plain", "cfg"):
            times = time_steps(gen if name == "cfg" else plain, config, args.steps, args.warmup)
            runs[name].append(timing_stats(times)["median"])
    return {"cfg_coef": args.cfg_coef, "ms": runs,
            "ratio": float(np.median(runs["cfg"]) / np.median(runs["plain"])),
            "kv_cache_bytes": {"cfg": gen._kv.nbytes, "plain": plain._kv.nbytes}}


