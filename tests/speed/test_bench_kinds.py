"""`moshi-mlx bench kinds` (every kind's steady-state step in one run) and the host-sync counter."""

import argparse
import json

import mlx.core as mx
import numpy as np

from moshi_mlx.bench import kinds
from moshi_mlx.bench.syncs import count_host_syncs


def test_count_host_syncs_counts_and_restores():
    eval_fn, array_fn, item_fn = mx.eval, np.array, mx.array.item
    a = mx.arange(3)
    with count_host_syncs() as count:
        np.array(a)
        np.array([1, 2])  # not an MLX array: no sync
        a[0].item()
        int(a[1])
        mx.eval(a)
        mx.async_eval(a)
    assert dict(count.by_kind) == {"np.array": 1, ".item()": 1, ".int()": 1, "mx.eval": 1}
    assert count.total == 4 and count.async_evals == 1
    assert (mx.eval, np.array, mx.array.item) == (eval_fn, array_fn, item_fn)


def test_bench_kinds_json(capsys):
    parser = argparse.ArgumentParser()
    kinds.configure_parser(parser)
    args = parser.parse_args(["--kinds", "stt-1b,hibiki-1b", "--dim", "64", "--steps", "2",
                              "--warmup", "1", "--repeats", "1", "--json"])
    assert kinds.main(args) == 0
    res = json.loads(capsys.readouterr().out)
    assert list(res["kinds"]) == ["stt-1b", "hibiki-1b"]
    stt, hibiki = res["kinds"]["stt-1b"], res["kinds"]["hibiki-1b"]
    assert stt["dim"] == 64 and stt["depformer_steps"] == 0 and hibiki["depformer_steps"] == 8
    for r in (stt, hibiki):
        assert r["step_ms"] > 0 and r["step_cpu_ms"] > 0 and r["kyutai"] == "not asked"
        assert r["host_syncs"]["per_step"] >= 1
    assert stt["host_syncs"]["by_kind"] == {"np.array": 2}  # the tokens and the end-of-turn heads
