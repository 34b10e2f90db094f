"""`moshi-mlx bench lm`: LM step time on random weights, split into temporal transformer, depformer
and sampling; real-time factor against 80 ms; memory; optionally Kyutai's moshi_mlx side by side."""

from __future__ import annotations

import argparse
import json
import time

from ..engine import options_cli as _v
from .lm_kyutai import (compare_kyutai, kyutai_cannot_run, kyutai_condition, run_kyutai,  # noqa: F401
                        run_kyutai_script)
from .lm_models import (bench_conditions, bench_config, build_model, text_sampling,  # noqa: F401
                        time_steps)
from .lm_split import compare_cfg, time_split
from .stats import FRAME_MS, peak_rss_bytes, timing_stats

_build_model = build_model  # the name the other benchmarks import
_time_steps = time_steps


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
    p.add_argument("--kv-bits", type=_v.kv_bits, default=None, metavar="{8,4}",
                   help="time the generator with its KV cache quantized to 8 (or 4) bits")
    p.add_argument("--compare-kv", action="store_true",
                   help="with --kv-bits: peak memory at full context with and without the quantized cache")
    p.add_argument("--kv-agreement-frames", type=_v.COUNT0, default=0,
                   help="with --compare-kv: also the token agreement with the float cache over this many "
                        "greedy frames (free-running and teacher-forced)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


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
    model = build_model(config, args.bits, group, dtype, vis)
    build_s = time.perf_counter() - t0
    weight_bytes = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
    kv_report = None
    if args.compare_kv:  # first: its peaks are measured with nothing but the weights resident
        from .lm_kv import compare_kv

        if args.kv_bits is None:
            from ..errors import MoshiError
            raise MoshiError("--compare-kv needs --kv-bits 8 (or 4)")
        kv_report = compare_kv(model, config, dtype, args.kv_bits, args.kv_agreement_frames)
    mx.reset_peak_memory()
    conditions = bench_conditions(model, getattr(args, "cfg_coef", 1.0), dtype)
    text_temp, text_top_k = text_sampling(config)
    gen = LmGen(model, make_sampler(text_temp, top_k=text_top_k), seed=0, dtype=dtype, conditions=conditions,
                cfg_coef=getattr(args, "cfg_coef", 1.0), kv_bits=args.kv_bits)
    kv_bytes = gen._kv.nbytes  # the ring is allocated at full context up front
    step_ms = time_steps(gen, config, args.steps, args.warmup)
    result = {
        "config": args.config, "dim": config.dim, "layers": config.num_layers, "bits": args.bits,
        "cfg_coef": getattr(args, "cfg_coef", 1.0), "kv_bits": args.kv_bits,
        "group_size": group if args.bits < 16 else None, "activations": dtype_name,
        "device": str(mx.default_device()), "steps": args.steps, "build_s": round(build_s, 1),
        "step_ms": timing_stats(step_ms), "rtf": float(np.median(step_ms)) / FRAME_MS,
        "memory": {"weights_bytes": weight_bytes, "kv_cache_full_context_bytes": kv_bytes,
                   "mlx_peak_bytes": mx.get_peak_memory(),
                   "process_peak_rss_bytes": peak_rss_bytes()},
    }
    if kv_report is not None:
        result["kv"] = kv_report
    if vis is not None:
        from .vis import bench_image

        result["image"] = bench_image(model, gen, config, args.steps, args.warmup, max(2, args.repeats))
    if not args.no_split:
        result["split_ms"] = time_split(model, config, dtype, args.steps, args.warmup, gen)
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
    if "kv" in r:
        from .lm_kv import table_lines as kv_lines

        lines += kv_lines(r["kv"])
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
