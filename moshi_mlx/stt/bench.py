"""`moshi-mlx bench stt`: how fast a file is transcribed (x real time), the way `transcribe` runs it:
frame by frame through the Transcriber (Mimi encode with 32 codebooks, LM step, words), the
trailing silence included, no pacing. Random weights of a released STT structure (`--config
stt-1b`, 4-bit by default: nothing to download) or a real model (`--model`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from ..bench.stats import FRAME_MS, memory_peaks, timing_stats
from ..engine import options_cli as _v

TEN_MINUTES = 600.0


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="an STT model (folder, repo id, demo-stt); default: "
                                                  "random weights of --config")
    p.add_argument("--config", default="stt-1b", help="stt-1b | stt-2.6b | an STT config.json (random weights)")
    p.add_argument("--bits", type=int, default=4, choices=(4, 8, 16), help="random weights: 16 = unquantized")
    p.add_argument("--group-size", type=_v.COUNT, default=None, help="default: 32 for 4 bits, 64 for 8")
    p.add_argument("--dim", type=_v.COUNT, default=None, help="shrink the width, keeping the structure")
    p.add_argument("--seconds", type=_v.POSITIVE, default=10.0, help="audio to transcribe (noise and tones)")
    p.add_argument("--codec-backend", choices=("mlx", "rustymimi"), default="mlx")
    p.add_argument("--cache-dir", default=None, help="HF cache folder for --model")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _random_model(args, tmp: Path):
    """Random weights of an STT structure (refused before building anything if not STT)."""
    from ..bench.e2e import _random_model as random_model
    from ..bench.lm import bench_config
    from ..kinds import check_kind

    check_kind(bench_config(argparse.Namespace(config=args.config, dim=None)).extra, ("stt",), args.config,
               "`bench stt`")
    model = random_model(args, tmp)
    model.kind = "stt"
    if args.dim:
        model.files = dataclasses.replace(model.files, name=f"{model.files.name} (dim {args.dim})")
    return model


def run(args) -> dict:
    import mlx.core as mx
    import numpy as np

    from .loading import load_stt_model
    from .transcriber import Transcriber

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if args.model:
            model = load_stt_model(args.model, "`bench stt`", cache_dir=args.cache_dir,
                                   codec_backend=args.codec_backend)
        else:
            model = _random_model(args, Path(tmp))
        load_s = time.perf_counter() - t0
        tr = Transcriber(model)
        encode_ms = []
        encode = model.codec.encode_frame

        def timed_encode(pcm):
            t = time.perf_counter()
            codes = encode(pcm)
            encode_ms.append(1000 * (time.perf_counter() - t))
            return codes

        model.codec.encode_frame = timed_encode
        rng = np.random.default_rng(0)
        n = int(args.seconds * 24000)
        t = np.arange(n) / 24000
        audio = (0.1 * rng.standard_normal(n) + 0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        frame_ms = []
        t0 = time.perf_counter()
        for start in range(0, n, tr.frame_size):  # as transcribe_file feeds a file
            t1 = time.perf_counter()
            tr.push(audio[start:start + tr.frame_size])
            frame_ms.append(1000 * (time.perf_counter() - t1))
        tr.flush()
        wall = time.perf_counter() - t0
    speed = args.seconds / wall
    tail = tr.frames - len(frame_ms)  # the trailing silence's frames: delay + 1 s
    per_frame = wall / tr.frames
    result = {
        "model": model.files.name, "device": str(mx.default_device()), "codec_backend": args.codec_backend,
        "audio_s": args.seconds, "frames": tr.frames, "wall_s": wall, "load_s": load_s,
        "speed_x_real_time": speed, "frame_ms": timing_stats(frame_ms[2:] or frame_ms),
        "encode_ms": timing_stats(encode_ms[2:] or encode_ms),
        "ten_minute_file_s": (TEN_MINUTES * 12.5 + tail) * per_frame,
        **memory_peaks(),
    }
    result["real_time_factor"] = result["frame_ms"]["median"] / FRAME_MS
    return result


def main(args: argparse.Namespace) -> int:
    r = run(args)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    ten = r["ten_minute_file_s"]
    print(f"{r['model']} on {r['device']}, codec {r['codec_backend']}: {r['audio_s']:.1f} s of audio "
          f"({r['frames']} frames with the trailing silence) in {r['wall_s']:.1f} s, "
          f"{r['speed_x_real_time']:.2f}x real time")
    print(f"  per frame: median {r['frame_ms']['median']:.1f} ms, p95 {r['frame_ms']['p95']:.1f} ms "
          f"(Mimi encode {r['encode_ms']['median']:.1f} ms); live needs < 80 ms: real-time factor "
          f"{r['real_time_factor']:.2f}")
    print(f"  a 10-minute file: about {ten / 60:.1f} min ({600 / ten:.2f}x real time), extrapolated from "
          f"this run's time per frame")
    print(f"  memory: peak RSS {r['peak_rss_mb']:.0f} MB, MLX peak {r['mlx_peak_mb']:.0f} MB")
    sys.stdout.flush()
    return 0
