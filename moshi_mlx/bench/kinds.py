"""`moshi-mlx bench kinds`: the steady-state LM step of every model kind in one run (Moshi,
PersonaPlex, STT, Hibiki, TTS: the released presets), on random weights, with the host syncs per
step and, with --compare-kyutai, Kyutai's moshi_mlx 0.3.0 generator on the same config side by
side (alternated ABBA) where Kyutai's package can run that config.

By default the presets keep their structure (layers, codebooks, depformer steps, conditioning) at a
reduced width (--dim 256): the per-step overhead (graph building, dispatch, host syncs) is what a
regression of the step shows first, and full widths take seconds per step on a CPU. --dim 0 keeps
the real widths. Times are wall ms and this process's CPU ms (robust to other loads on a shared
machine) per step."""

from __future__ import annotations

import argparse
import json
import time

from ..engine import options_cli as _v
from .stats import timing_stats


def configure_parser(p: argparse.ArgumentParser) -> None:
    from ..lm.presets import PRESETS

    p.add_argument("--kinds", default=",".join(PRESETS),
                   help=f"comma-separated presets (default: all: {','.join(PRESETS)})")
    p.add_argument("--dim", type=_v.COUNT0, default=256, help="width of every preset (0: the real width)")
    p.add_argument("--bits", type=_v.COUNT, default=4, choices=(4, 8, 16), help="16: unquantized")
    p.add_argument("--steps", type=_v.COUNT, default=8)
    p.add_argument("--warmup", type=_v.COUNT0, default=3)
    p.add_argument("--repeats", type=_v.COUNT, default=2, help="runs of each side, alternated ABBA")
    p.add_argument("--compare-kyutai", action="store_true",
                   help="also time Kyutai's moshi_mlx 0.3.0 generator on each config it can run")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _time_ours(gen, config, steps: int, warmup: int) -> tuple[list, list]:
    import numpy as np

    gen.reset(seed=0)
    rng = np.random.default_rng(0)
    wall, cpu = [], []
    for i in range(steps + warmup):
        user = rng.integers(0, config.card, config.user_codebooks)
        t, c = time.perf_counter(), time.process_time()
        gen.step(user)
        if i >= warmup:
            wall.append(1000 * (time.perf_counter() - t))
            cpu.append(1000 * (time.process_time() - c))
    return wall, cpu


def bench_kind(name: str, args) -> dict:
    import numpy as np

    from ..device import activation_dtype
    from ..lm import LmGen, make_sampler
    from .syncs import syncs_per_step
    from .lm import (_build_model, bench_conditions, bench_config, kyutai_cannot_run, kyutai_condition,
                     run_kyutai_script, text_sampling)

    config = bench_config(argparse.Namespace(config=name, dim=args.dim or None))
    group = 32 if args.bits == 4 else 64
    dtype = activation_dtype()
    model = _build_model(config, args.bits, group, dtype)
    text_temp, text_top_k = text_sampling(config)
    gen = LmGen(model, make_sampler(text_temp, top_k=text_top_k), seed=0, dtype=dtype,
                conditions=bench_conditions(model, 1.0, dtype))
    result = {"dim": config.dim, "layers": config.num_layers, "codebooks": config.num_codebooks,
              "depformer_steps": gen.codebooks}
    missing = kyutai_cannot_run(config) if args.compare_kyutai else ["not asked"]
    job = {"lm_kwargs": config.pytorch_kwargs(), "bits": args.bits, "group_size": group,
           "dtype": "float32" if dtype.size == 4 else "bfloat16", "steps": args.steps,
           "warmup": args.warmup, "floor": False, "cfg_coef": 1.0, "condition": kyutai_condition(config),
           "text_temp": text_temp, "text_top_k": text_top_k}
    runs = {"ours_wall": [], "ours_cpu": [], "kyutai_wall": [], "kyutai_cpu": []}
    kyutai_error = None
    for r in range(args.repeats):
        for side in ("ours", "kyutai") if r % 2 == 0 else ("kyutai", "ours"):
            if side == "ours":
                wall, cpu = _time_ours(gen, config, args.steps, args.warmup)
            elif missing or kyutai_error:
                continue
            else:
                try:
                    data = run_kyutai_script("kyutai_lm.py", job)
                except Exception as e:  # reported per kind, the others still run
                    kyutai_error = str(e).strip().splitlines()[-1][:300]
                    continue
                wall, cpu = data["step_ms"], data.get("step_cpu_ms", data["step_ms"])
            runs[f"{side}_wall"].append(float(np.median(wall)))
            runs[f"{side}_cpu"].append(float(np.median(cpu)))
    result["runs_ms"] = runs
    result["step_ms"] = float(np.median(runs["ours_wall"]))
    result["step_cpu_ms"] = float(np.median(runs["ours_cpu"]))
    if runs["kyutai_wall"]:
        result["kyutai_step_ms"] = float(np.median(runs["kyutai_wall"]))
        result["kyutai_step_cpu_ms"] = float(np.median(runs["kyutai_cpu"]))
        result["ratio_vs_kyutai"] = result["step_ms"] / result["kyutai_step_ms"]
        result["ratio_cpu_vs_kyutai"] = result["step_cpu_ms"] / result["kyutai_step_cpu_ms"]
    else:
        result["kyutai"] = kyutai_error or ("cannot run: no " + ", no ".join(missing)
                                            if missing != ["not asked"] else "not asked")
    result["host_syncs"] = syncs_per_step(gen, config)
    return result


def main(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..lm.presets import PRESETS

    names = [n.strip() for n in args.kinds.split(",") if n.strip()]
    unknown = [n for n in names if n not in PRESETS]
    if unknown or not names:
        raise ConfigError(f"unknown presets {unknown} (choose from {', '.join(PRESETS)})")
    if args.steps < 1 or args.warmup < 0 or args.repeats < 1 or args.dim < 0:
        raise ConfigError("--steps and --repeats must be >= 1, --warmup and --dim >= 0")
    res = {"dim": args.dim or "real", "bits": args.bits, "steps": args.steps, "repeats": args.repeats,
           "kinds": {}}
    for name in names:
        res["kinds"][name] = bench_kind(name, args)
    print(json.dumps(res, indent=2) if args.json else _table(res))
    return 0


def _table(res: dict) -> str:
    lines = [f"LM steady-state step per kind (width {res['dim']}, q{res['bits']}, {res['steps']} steps, "
             f"{res['repeats']} runs alternated ABBA; medians of the runs' medians)",
             "| preset | layers | depformer steps | ms | CPU ms | Kyutai ms | Kyutai CPU ms | ratio (CPU) "
             "| host syncs / step |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in res["kinds"].items():
        syncs = r["host_syncs"]
        what = ", ".join(f"{k} {v:g}" for k, v in syncs["by_kind"].items())
        if "ratio_vs_kyutai" in r:
            kyutai = (f"{r['kyutai_step_ms']:.1f} | {r['kyutai_step_cpu_ms']:.1f} | "
                      f"{r['ratio_vs_kyutai']:.2f} ({r['ratio_cpu_vs_kyutai']:.2f})")
        else:
            kyutai = f"- | - | {r['kyutai']}"
        lines.append(f"| {name} | {r['layers']} | {r['depformer_steps']} | {r['step_ms']:.1f} | "
                     f"{r['step_cpu_ms']:.1f} | {kyutai} | {syncs['per_step']:g} ({what}) |")
    return "\n".join(lines)
