"""`moshi-mlx bench [e2e]`: the whole frame (Mimi encode, LM step, Mimi decode) as in a conversation,
with a plain verdict: can this machine hold a conversation with this model in real time?

`--model SPEC` times a real model (folder, repo id, `demo`); `--config 7b|1b --bits 4|8|16` times
random weights of that architecture with a random full-size Mimi (nothing to download).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from .stats import FRAME_MS, memory_peaks, timing_stats
from ..engine import options_cli as _v


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="a model folder, HF repo id or 'demo' (default: random weights of --config)")
    p.add_argument("--config", default="7b", help="7b | 1b (random weights; ignored with --model)")
    p.add_argument("--bits", type=int, default=4, choices=(4, 8, 16), help="random weights: 16 = bf16")
    p.add_argument("--group-size", type=_v.COUNT, default=None, help="default: 32 for 4 bits, 64 for 8")
    p.add_argument("--codec-backend", choices=("mlx", "rustymimi"), default="mlx")
    p.add_argument("--frames", type=_v.COUNT, default=20, help="frames to time (after the warm-up)")
    p.add_argument("--warmup", type=_v.COUNT0, default=3)
    p.add_argument("--cache-dir", default=None, help="HF cache folder for --model")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


class _NoText:
    """Random-weight models have no tokenizer: every text token detokenizes to nothing."""

    def get_piece_size(self) -> int:
        return 0


def _random_model(args, tmp: Path):
    """A LoadedModel of random weights: the LM built layer by layer (never whole in full precision),
    the release-size Mimi written once in release format (what the codec backends read)."""
    import mlx.core as mx

    from ..device import activation_dtype
    from ..engine.loader import LoadedModel
    from ..hub import ModelFiles
    from ..mimi import Mimi, MimiConfig, open_codec
    from ..mimi.weights import export_release_format
    from .lm import _build_model, bench_config  # the LM benchmark's random-weight builder

    lm_args = argparse.Namespace(config=args.config, dim=getattr(args, "dim", None))
    config = bench_config(lm_args)
    group = args.group_size or (32 if args.bits == 4 else 64)
    lm = _build_model(config, args.bits, group, activation_dtype())
    mimi_path = tmp / "tokenizer-random.safetensors"
    mx.save_safetensors(str(mimi_path), export_release_format(Mimi(MimiConfig.moshi())))
    codec = open_codec(mimi_path, backend=args.codec_backend, num_codebooks=config.mimi_codebooks)
    bits = "bf16" if args.bits == 16 else f"q{args.bits}/g{group}"
    name = f"random {args.config} {bits}"
    files = ModelFiles(mimi_path, mimi_path, mimi_path, {}, name)
    return LoadedModel(files, lm, codec, _NoText(), args.codec_backend)


def verdict(name: str, total_ms: float, p95_ms: float) -> str:
    rtf = total_ms / FRAME_MS
    if total_ms < 0.85 * FRAME_MS and p95_ms < FRAME_MS:
        return (f"This machine CAN run {name} in real time: {total_ms:.0f} ms per 80 ms frame "
                f"(real-time factor {rtf:.2f}).")
    if total_ms < FRAME_MS:
        return (f"This machine can BARELY run {name} in real time: {total_ms:.0f} ms per 80 ms frame "
                f"(real-time factor {rtf:.2f}, p95 {p95_ms:.0f} ms): expect dropped frames.")
    return (f"This machine CANNOT run {name} in real time: {total_ms:.0f} ms per 80 ms frame "
            f"(real-time factor {rtf:.2f}; it must stay below 1).")


def run(args) -> dict:
    import mlx.core as mx
    import numpy as np

    from ..engine.core import FrameEngine, Sampling
    from ..errors import MoshiError
    from ..engine.loader import load_model
    from ..hub import resolve_model
    from ..kinds import KINDS, check_kind

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if args.model:
            model = load_model(resolve_model(args.model, cache_dir=args.cache_dir), args.codec_backend)
        else:
            model = _random_model(args, Path(tmp))
        load_s = time.perf_counter() - t0
        check_kind(model.lm.config.extra, [k for k in KINDS if "chat" in KINDS[k].commands],
                   args.model or args.config, "`bench e2e` (a conversation's frame)")
        core = FrameEngine(model, Sampling(seed=0))
        n = model.codec.frame_size
        rng = np.random.default_rng(0)
        enc, lm, dec, total = [], [], [], []
        for i in range(args.warmup + args.frames):
            res = core.step((0.1 * rng.standard_normal(n)).astype(np.float32))
            if i >= args.warmup and res.text_token is not None:
                enc.append(res.encode_ms)
                lm.append(res.lm_ms)
                dec.append(res.decode_ms)
                total.append(res.total_ms)
    if not total:
        raise MoshiError("no frame was emitted: raise --frames")
    result = {
        "model": model.files.name, "device": str(mx.default_device()),
        "codec_backend": args.codec_backend, "frames": len(total), "load_s": load_s,
        "encode_ms": timing_stats(enc), "lm_ms": timing_stats(lm), "decode_ms": timing_stats(dec),
        "total_ms": timing_stats(total),
        **memory_peaks(),
    }
    result["real_time_factor"] = result["total_ms"]["median"] / FRAME_MS
    result["verdict"] = verdict(result["model"], result["total_ms"]["median"], result["total_ms"]["p95"])
    return result


def main(args: argparse.Namespace) -> int:
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['model']} on {result['device']}, codec {result['codec_backend']}, "
          f"{result['frames']} frames (loaded in {result['load_s']:.1f} s)")
    print(f"{'ms per frame':14s} {'median':>9s} {'p95':>9s}")
    for key in ("encode_ms", "lm_ms", "decode_ms", "total_ms"):
        s = result[key]
        print(f"{key[:-3]:14s} {s['median']:9.1f} {s['p95']:9.1f}")
    print(f"real-time factor {result['real_time_factor']:.2f} (median total / 80 ms); peak RSS "
          f"{result['peak_rss_mb']:.0f} MB, MLX peak {result['mlx_peak_mb']:.0f} MB")
    print(result["verdict"])
    sys.stdout.flush()
    return 0
