"""`moshi-mlx bench lm`: LM step time on random weights, split into temporal transformer, depformer
and sampling; real-time factor against 80 ms; memory; optionally Kyutai's moshi_mlx side by side."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .stats import FRAME_MS, peak_rss_bytes, timing_stats
from ..engine import options_cli as _v


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="7b",
                   help="7b | 1b | a released model's preset (moshi-7b, stt-1b, stt-2.6b, hibiki-1b, "
                        "hibiki-2b, hibiki-zero, tts-1.6b, tts-0.75b, personaplex-7b) | a config.json | "
                        "moshivis (Moshi 7B + SigLIP: also times the image once and the step with it)")
    p.add_argument("--cfg-coef", type=_v.GUIDANCE, default=1.0,
                   help="classifier-free guidance (conditioned models): a batch of two rows")
    p.add_argument("--bits", type=int, default=4, choices=(4, 8, 16), help="16: unquantized")
    p.add_argument("--group-size", type=_v.COUNT, default=None, help="default: 32 for 4 bits, 64 for 8")
    p.add_argument("--dim", type=_v.COUNT, default=None,
                   help="override the width (temporal and depformer), e.g. 128 for the overhead-bound test")
    p.add_argument("--steps", type=_v.COUNT, default=20)
    p.add_argument("--warmup", type=_v.COUNT0, default=3)
    p.add_argument("--dtype", default=None, help="activations: bf16 | fp32 (default: per device)")
    p.add_argument("--no-split", action="store_true", help="skip the temporal/depformer/sampling/matmul-floor split")
    p.add_argument("--compare-kyutai", action="store_true",
                   help="also time Kyutai's moshi_mlx 0.3.0 generator on the same config (subprocess)")
    p.add_argument("--repeats", type=_v.COUNT, default=1,
                   help="with --compare-kyutai / --compare-cfg: alternate the two this many times (noisy machines)")
    p.add_argument("--compare-cfg", action="store_true",
                   help="with --cfg-coef X: also time our step without guidance (cfg 1), alternated, "
                        "and report what guidance costs")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def bench_config(args):
    from ..lm import LmConfig

    from ..lm.presets import PRESETS, preset

    if args.config == "moshivis":
        from .vis import vis_configs

        config = vis_configs(args)[0]
        return config
    if args.config == "7b":
        config = LmConfig.moshi_7b()
    elif args.config == "1b":
        config = LmConfig.hibiki_1b()
    elif args.config in PRESETS:
        config = preset(args.config)
    else:
        config = LmConfig.from_json(args.config)
    if args.dim:
        heads = max(1, args.dim // 32)  # head dim 32 at tiny widths
        config = LmConfig.from_dict(config.to_dict() | dict(
            dim=args.dim, num_heads=heads, depformer_dim=args.dim, depformer_num_heads=heads,
            depformer_dim_feedforward=int(config.hidden_scale * args.dim)))
    return config


def text_sampling(config) -> tuple[float, int]:
    """The text sampler a model runs with: its config's lm_gen_config (Kyutai's STT: greedy),
    else Kyutai's LMGen defaults (temperature 0.7, top-k 25)."""
    gen = config.extra.get("lm_gen_config") or {}
    from ..sampling_defaults import TEXT_TEMPERATURE, TEXT_TOP_K

    return float(gen.get("temp_text", TEXT_TEMPERATURE)), int(gen.get("top_k_text", TEXT_TOP_K))


def bench_conditions(model, cfg_coef: float, dtype):
    """Conditions for timing a conditioned model: each LUT's last value (Hibiki's "very_good",
    TTS's "ok"), 10 s of speaker embeddings (125 positions) for tensor conditions; with CFG the
    null row as Kyutai drops conditions. None for unconditioned models."""
    import numpy as np

    from ..lm.conditioners import conditioner_specs, make_conditions, null_row

    specs = conditioner_specs(model.config)
    if not specs:
        return None
    row = {s.name: s.possible_values[-1] if s.kind == "lut" and s.possible_values else
           ("0" if s.kind == "lut" else np.zeros((125, s.dim), np.float32)) for s in specs}
    rows = [row] if cfg_coef == 1 else [row, null_row(row)]
    return make_conditions(model, rows, dtype)


def _build_model(config, bits: int, group: int, dtype, vis=None):
    """Random weights, never materializing the whole full-precision model (module by module).
    `vis`: a MoshiVis model (its image tower stays float, see lm.weights.UNQUANTIZED_PREFIXES)."""
    import mlx.core as mx
    import mlx.nn as nn
    from mlx.utils import tree_map

    from ..lm import Lm, quantize_lm
    from ..lm.step_sharing import tie_step_weights
    from ..lm.transformer import RMSNorm

    mx.random.seed(0)
    if vis is not None:
        from ..vis.lm import build_vis_lm

        model = build_vis_lm(config, vis)
    else:
        model = Lm(config)
    if bits < 16 and dtype != mx.float32:  # quantized from weights in `dtype`: no float32 scales to cast
        model.set_dtype(dtype)
    if vis is None:
        tie_step_weights(model)  # as loaded, the depformer steps sharing a weight set hold one copy
    if bits < 16:
        quantize_lm(model, bits, group)
    quantized = (nn.QuantizedLinear, nn.QuantizedEmbedding)
    casts: dict[int, tuple] = {}  # a shared array is cast once (the original kept: ids stay unique)

    def cast(a):
        return a if a.dtype == dtype else casts.setdefault(id(a), (a, a.astype(dtype)))[1]

    for _, module in model.named_modules():
        if isinstance(module, quantized):  # what load_lm does: scales and biases in the activation dtype
            module.scales = cast(module.scales)
            module.biases = cast(module.biases)
        elif isinstance(module, (nn.Linear, nn.Embedding, RMSNorm)):
            module.update(tree_map(cast, module.parameters()))
        else:
            continue
        mx.eval(module.parameters())
    return model


def _time_split(model, config, dtype, steps: int, warmup: int, gen) -> dict:
    """Each part compiled and evaluated on its own (so the parts include their own sync). The
    temporal part attends to the same cache prefix as the generator does over these steps."""
    import mlx.core as mx

    length = next((n for n in gen._lengths if n > steps + warmup), None)

    cond_sum = gen._cond[0] if gen._cond else None
    cross = gen._cross or None
    count = gen.codebooks

    def temporal_fn(tok, off, *kv):
        out, text_logits, kv = model.temporal(tok, list(kv), off, dtype, length, cond_sum, cross)
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
    kv = model.make_cache(gen.rows, dtype)
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


def _time_steps(gen, config, steps: int, warmup: int) -> list[float]:
    """ms per LmGen.step (random user codes), after `warmup` steps, from a fresh state."""
    import numpy as np

    gen.reset(seed=0)
    rng = np.random.default_rng(0)
    times = []
    for i in range(steps + warmup):
        user = rng.integers(0, config.card, config.user_codebooks)
        t = time.perf_counter()
        gen.step(user)
        if i >= warmup:
            times.append(1000 * (time.perf_counter() - t))
    return times


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
        runs["ours"].append(timing_stats(_time_steps(gen, config, args.steps, args.warmup))["median"])
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
            times = _time_steps(gen if name == "cfg" else plain, config, args.steps, args.warmup)
            runs[name].append(timing_stats(times)["median"])
    return {"cfg_coef": args.cfg_coef, "ms": runs,
            "ratio": float(np.median(runs["cfg"]) / np.median(runs["plain"])),
            "kv_cache_bytes": {"cfg": sum(a.nbytes for a in gen._kv),
                               "plain": sum(a.nbytes for a in plain._kv)}}


def main(args: argparse.Namespace) -> int:
    import mlx.core as mx
    import numpy as np
    from mlx.utils import tree_flatten

    from ..device import activation_dtype, parse_dtype
    from ..lm import LmGen, make_sampler

    config = bench_config(args)
    if args.compare_kyutai and kyutai_cannot_run(config):  # say so before building the model
        from ..errors import MoshiError
        raise MoshiError(f"Kyutai's moshi-mlx 0.3.0 cannot run {args.config}: it has no "
                         + ", no ".join(kyutai_cannot_run(config)) + "; time ours alone (without "
                         "--compare-kyutai)")
    group = args.group_size or (32 if args.bits == 4 else 64)
    dtype = parse_dtype(args.dtype) or activation_dtype()
    dtype_name = {mx.float32: "float32", mx.bfloat16: "bfloat16", mx.float16: "float16"}[dtype]
    t0 = time.perf_counter()
    vis = None
    if args.config == "moshivis":
        from .vis import vis_configs

        vis = vis_configs(args)[1]
    model = _build_model(config, args.bits, group, dtype, vis)
    build_s = time.perf_counter() - t0
    weight_bytes = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
    mx.reset_peak_memory()
    conditions = bench_conditions(model, getattr(args, "cfg_coef", 1.0), dtype)
    text_temp, text_top_k = text_sampling(config)
    gen = LmGen(model, make_sampler(text_temp, top_k=text_top_k), seed=0, dtype=dtype, conditions=conditions,
                cfg_coef=getattr(args, "cfg_coef", 1.0))
    kv_bytes = sum(a.nbytes for a in gen._kv)  # the ring is allocated at full context up front
    step_ms = _time_steps(gen, config, args.steps, args.warmup)
    result = {
        "config": args.config, "dim": config.dim, "layers": config.num_layers, "bits": args.bits,
        "cfg_coef": getattr(args, "cfg_coef", 1.0),
        "group_size": group if args.bits < 16 else None, "activations": dtype_name,
        "device": str(mx.default_device()), "steps": args.steps, "build_s": round(build_s, 1),
        "step_ms": timing_stats(step_ms), "rtf": float(np.median(step_ms)) / FRAME_MS,
        "memory": {"weights_bytes": weight_bytes, "kv_cache_full_context_bytes": kv_bytes,
                   "mlx_peak_bytes": mx.get_peak_memory(),
                   "process_peak_rss_bytes": peak_rss_bytes()},
    }
    if vis is not None:
        from .vis import bench_image

        result["image"] = bench_image(model, gen, config, args.steps, args.warmup, max(2, args.repeats),
                                      _time_steps)
    if not args.no_split:
        result["split_ms"] = _time_split(model, config, dtype, args.steps, args.warmup, gen)
    if args.compare_kyutai:
        result |= compare_kyutai(args, model, gen, config, group, dtype, dtype_name)
    if getattr(args, "compare_cfg", False):
        result["cfg"] = compare_cfg(args, model, gen, config, dtype)
    from .syncs import syncs_per_step

    result["host_syncs"] = syncs_per_step(gen, config)  # after the timings: it steps `gen` on
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


def _table(r: dict) -> str:
    gib = 1024 ** 3
    q = f"q{r['bits']}/g{r['group_size']}" if r["bits"] < 16 else "unquantized"
    lines = [f"LM bench: config {r['config']} (dim {r['dim']}, {r['layers']} layers), {q}, "
             f"{r['activations']} activations, {r['device']}, {r['steps']} steps",
             f"  step      median {r['step_ms']['median']:9.1f} ms   p95 {r['step_ms']['p95']:9.1f} ms"
             f"   real-time factor {r['rtf']:.2f} (vs 80 ms)"]
    for name, s in r.get("split_ms", {}).items():
        note = "   (the frame's linear layers alone: the arithmetic floor)" if name == "matmuls" else ""
        lines.append(f"  {name:<9} median {s['median']:9.1f} ms   p95 {s['p95']:9.1f} ms{note}")
    m = r["memory"]
    lines.append(f"  memory    weights {m['weights_bytes'] / gib:.2f} GiB, KV cache at full context "
                 f"{m['kv_cache_full_context_bytes'] / gib:.2f} GiB, MLX peak {m['mlx_peak_bytes'] / gib:.2f} GiB, "
                 f"process peak RSS {m['process_peak_rss_bytes'] / gib:.2f} GiB")
    if "image" in r:
        from .vis import table_lines

        lines += table_lines(r["image"])
    if "kyutai" in r:
        rep = r["repeats"]

        def ms(values):
            return ", ".join(f"{v:.1f}" for v in values)

        lines += [f"  Kyutai moshi_mlx 0.3.0, {len(rep['ms']['ours'])} runs each, alternated (ABBA), median ms per run:",
                  f"    ours   {ms(rep['ms']['ours'])}   (matmul floor {ms(rep['ms']['ours_floor'])})",
                  f"    Kyutai {ms(rep['ms']['kyutai'])}   (matmul floor {ms(rep['ms']['kyutai_floor'])})",
                  f"    ours / Kyutai = {r['ratio_vs_kyutai']:.2f} (medians), {rep['ratio_of_best']:.2f} (best runs)",
                  f"    above the matmul floor: ours {rep['above_floor_ms']['ours']:.1f} ms, Kyutai "
                  f"{rep['above_floor_ms']['kyutai']:.1f} ms: {rep['ratio_above_floor']:.2f}; "
                  f"our floor alone is {rep['floor_vs_kyutai_step']:.2f} of Kyutai's step"]
    if "host_syncs" in r:
        h = r["host_syncs"]
        lines.append(f"  host syncs per step: {h['per_step']:g} ("
                     + ", ".join(f"{k} {v:g}" for k, v in h["by_kind"].items()) + ")")
    if "cfg" in r:
        c = r["cfg"]
        lines.append(f"  guidance (cfg {c['cfg_coef']:g}, 2 rows) vs none, alternated, median ms per run: "
                     f"{', '.join(f'{v:.1f}' for v in c['ms']['cfg'])} vs "
                     f"{', '.join(f'{v:.1f}' for v in c['ms']['plain'])}: {c['ratio']:.2f}x")
    return "\n".join(lines)
