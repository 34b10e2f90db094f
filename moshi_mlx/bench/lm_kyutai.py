"""Kyutai's moshi_mlx 0.3.0 generator side by side with ours (`bench lm --compare-kyutai`, `bench
kinds`, `bench tts`): what it cannot run, its subprocess runner, the ABBA comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .lm_models import text_sampling, time_steps
from .stats import timing_stats

def kyutai_cannot_run(config) -> list[str]:
    """What of `config` Kyutai's moshi_mlx 0.3.0 does not implement (its LmConfig ignores these
    keys: it would time another, larger model)."""
    missing = []
    if config.kv_repeat != 1 or (config.depformer_kv_repeat or 1) != 1:
        missing.append("grouped-query attention (kv_repeat)")
    if "rope_concat" in (config.positional_embedding, config.depformer_pos_emb):
        missing.append("split-half RoPE (rope_concat)")
    if config.depformer_norm:
        missing.append("depformer norms")
    return missing


def kyutai_condition(config) -> list | None:
    """The one LUT condition Kyutai's generator takes per step (Hibiki's description: its last
    value, "very_good"); None when the model has no single LUT conditioner."""
    from ..lm.conditioners import conditioner_specs

    specs = conditioner_specs(config)
    if len(specs) != 1 or specs[0].kind != "lut" or not specs[0].possible_values:
        return None
    return [specs[0].name, specs[0].possible_values[-1]]


def run_kyutai_script(script: str, job: dict) -> dict:
    """Run one of our runners of Kyutai's moshi_mlx (kyutai_lm.py, kyutai_tts.py) in a subprocess
    (its package shares our import name) on a JSON job; returns the JSON line it prints."""
    from ..errors import MoshiError

    repo = Path(__file__).resolve().parents[2]
    target = Path(os.environ.get("KYUTAI_MOSHI_MLX", repo / ".venv" / "kyutai-moshi-mlx"))
    if not (target / "moshi_mlx").is_dir():
        raise MoshiError(f"Kyutai's moshi-mlx is not installed in {target} (run `make setup`)")
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name(script)), json.dumps(job)],
                          env=env, capture_output=True, text=True, cwd=str(target))
    if proc.returncode:
        raise RuntimeError(f"Kyutai's moshi_mlx ({script}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_kyutai(config, bits: int, group: int, dtype_name: str, steps: int, warmup: int,
               cfg_coef: float = 1.0) -> dict:
    """Kyutai's moshi_mlx generator in a subprocess: ms per step, peak memory, and the matmul floor
    of Kyutai's model (floor.py)."""
    text_temp, text_top_k = text_sampling(config)
    job = {"lm_kwargs": config.pytorch_kwargs(), "bits": bits, "group_size": group,
           "dtype": dtype_name, "steps": steps, "warmup": warmup, "floor": True,
           "cfg_coef": cfg_coef, "condition": kyutai_condition(config),
           "text_temp": text_temp, "text_top_k": text_top_k}
    data = run_kyutai_script("kyutai_lm.py", job)
    return {"step_ms": timing_stats(data["step_ms"]), "peak_memory_bytes": data["peak_memory"],
            "floor_ms": timing_stats(data["floor_ms"])}


def compare_kyutai(args, model, gen, config, group: int, dtype, dtype_name: str) -> dict:
    """Ours and Kyutai's generator alternated `args.repeats` times in ABBA order (the first run of a
    pair tends to be the slow one), each run followed by its model's matmul floor; ratios of the
    medians of the runs' medians, of the best runs, and of the time spent above the floor (what
    goal (a) is about: graph building, dispatch, synchronisation)."""
    import numpy as np

    from .floor import matmul_floor, time_floor

    runs = {"ours": [], "kyutai": [], "ours_floor": [], "kyutai_floor": []}
    kyutai = None
    floor = matmul_floor(model, dtype)

    def ours():
        runs["ours"].append(timing_stats(time_steps(gen, config, args.steps, args.warmup))["median"])
        runs["ours_floor"].append(float(np.median(time_floor(floor, args.steps))))

    def theirs():
        nonlocal kyutai
        kyutai = run_kyutai(config, args.bits, group, dtype_name, args.steps, args.warmup,
                            getattr(args, "cfg_coef", 1.0))
        runs["kyutai"].append(kyutai["step_ms"]["median"])
        runs["kyutai_floor"].append(kyutai["floor_ms"]["median"])

    for r in range(args.repeats):
        for run in (ours, theirs) if r % 2 == 0 else (theirs, ours):
            run()
    median = {name: float(np.median(v)) for name, v in runs.items()}
    above = {name: float(np.median(np.subtract(runs[name], runs[name + "_floor"])))
             for name in ("ours", "kyutai")}
    return {"kyutai": kyutai, "ratio_vs_kyutai": median["ours"] / median["kyutai"],
            "repeats": {"ms": runs, "ratio_of_medians": median["ours"] / median["kyutai"],
                        "ratio_of_best": min(runs["ours"]) / min(runs["kyutai"]),
                        "above_floor_ms": above, "ratio_above_floor": above["ours"] / above["kyutai"],
                        "floor_vs_kyutai_step": median["ours_floor"] / median["kyutai"]}}


