"""`moshi-mlx bench codec`: Mimi ms per 80 ms frame, streaming encode and decode, side by side:
our MLX Mimi, the rustymimi backend, and Kyutai's MLX Mimi (moshi-mlx 0.3.0, run in a subprocess
because it has our import name), all on the same random full-size weights and the same audio."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..engine import options_cli as _v

import numpy as np

from .stats import timing_stats

BACKENDS = ("mlx", "rustymimi", "kyutai-mlx")
KYUTAI_PATH = Path(__file__).resolve().parents[2] / ".venv" / "kyutai-moshi-mlx"

# Runs inside the subprocess with Kyutai's moshi_mlx on sys.path; argv: weights, frames.npy, warmup, K, out.npz
_KYUTAI_SCRIPT = r"""
import sys, time, json
import numpy as np, mlx.core as mx
from moshi_mlx import models
weights, frames_path, warmup, k, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
model = models.mimi.Mimi(models.mimi_202407(k))
model.load_pytorch_weights(weights, strict=k == 32)  # the file holds 32 codebooks
frames = np.load(frames_path)
enc_ms, dec_ms, enc_cpu, dec_cpu, codes = [], [], [], [], []
for i, f in enumerate(frames):
    t, c0 = time.perf_counter(), time.process_time()
    c = np.array(model.encode_step(mx.array(f[None, None])))
    t1, c1 = time.perf_counter(), time.process_time()
    np.array(model.decode_step(mx.array(c)))
    t2, c2 = time.perf_counter(), time.process_time()
    if i >= warmup:
        enc_ms.append((t1 - t) * 1e3); dec_ms.append((t2 - t1) * 1e3)
        enc_cpu.append((c1 - c0) * 1e3); dec_cpu.append((c2 - c1) * 1e3)
    codes.append(c.reshape(-1))
np.savez(out, enc_ms=np.array(enc_ms), dec_ms=np.array(dec_ms), enc_cpu=np.array(enc_cpu),
         dec_cpu=np.array(dec_cpu), codes=np.stack(codes, 1))
"""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=_v.COUNT, default=40, help="timed frames per backend (default 40)")
    parser.add_argument("--warmup", type=_v.COUNT0, default=5, help="untimed frames first (compilation)")
    parser.add_argument("--codebooks", type=_v.COUNT, default=8)
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help=f"comma-separated subset of {','.join(BACKENDS)}")
    parser.add_argument("--weights", metavar="FILE",
                        help="Mimi weights to use (default: random full-size weights, written once)")
    parser.add_argument("--repeats", type=_v.COUNT, default=1,
                        help="run the backends this many times, alternating their order (ABBA): "
                             "ratios of the medians of the runs (noisy, shared machines)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _random_release_weights(path: Path, seed: int = 0) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten

    from ..mimi import Mimi, MimiConfig, export_release_format

    model = Mimi(MimiConfig.moshi())
    keys = mx.random.split(mx.random.key(seed), len(tree_flatten(model.parameters())))
    params = []
    for i, (name, v) in enumerate(tree_flatten(model.parameters())):
        noise = mx.random.normal(v.shape, key=keys[i])
        if v.ndim > 1:
            if name == "upsample.weight":  # depthwise [k, channels]
                fan_in = v.shape[0]
            elif name.startswith(("encoder_transformer", "decoder_transformer", "quantizer")):
                fan_in = v.shape[-1]  # linear [out, in], codebook [size, dim]
            else:
                fan_in = v.size // v.shape[-1]  # conv [k, in, out], transposed conv [in, k, out]
            value = noise / np.sqrt(fan_in)
        elif name.endswith(("norm1.weight", "norm2.weight")):
            value = 1 + 0.1 * noise
        elif name.endswith(".scale"):  # LayerScale: large enough that attention shapes the codes
            value = 0.3 + 0.05 * noise
        else:
            value = 0.1 * noise
        params.append((name, value))
    model.load_weights(params)
    mx.save_safetensors(str(path), export_release_format(model))


def _run_codec(codec, frames: np.ndarray, warmup: int):
    """Wall ms and this process's CPU ms (all threads: robust to other loads on a shared machine)
    per frame, encode and decode, after `warmup` frames; and the codes."""
    enc, dec, codes, cpu = [], [], [], ([], [])
    codec.reset()
    for i, f in enumerate(frames):
        t, c0 = time.perf_counter(), time.process_time()
        c = codec.encode_frame(f)
        t1, c1 = time.perf_counter(), time.process_time()
        codec.decode_frame(c)
        t2, c2 = time.perf_counter(), time.process_time()
        if i >= warmup:
            enc.append((t1 - t) * 1e3)
            dec.append((t2 - t1) * 1e3)
            cpu[0].append((c1 - c0) * 1e3)
            cpu[1].append((c2 - c1) * 1e3)
        codes.append(c)
    return enc, dec, np.stack(codes, 1), cpu


def _run_kyutai(weights: Path, frames: np.ndarray, warmup: int, k: int, tmp: Path):
    if not (KYUTAI_PATH / "moshi_mlx").is_dir():
        raise FileNotFoundError(f"Kyutai's moshi-mlx is not installed in {KYUTAI_PATH} (see the Makefile)")
    np.save(tmp / "frames.npy", frames)
    env = {**os.environ, "PYTHONPATH": str(KYUTAI_PATH)}
    r = subprocess.run([sys.executable, "-c", _KYUTAI_SCRIPT, str(weights), str(tmp / "frames.npy"),
                        str(warmup), str(k), str(tmp / "kyutai.npz")], env=env, capture_output=True,
                       text=True, cwd=tmp)
    if r.returncode:
        raise RuntimeError(f"Kyutai's MLX Mimi failed: {r.stderr.strip().splitlines()[-1:]}")
    out = np.load(tmp / "kyutai.npz")
    cpu = (list(out["enc_cpu"]), list(out["dec_cpu"]))
    return list(out["enc_ms"]), list(out["dec_ms"]), out["codes"], cpu


def run(frames_n: int = 40, warmup: int = 5, codebooks: int = 8, backends=BACKENDS,
        weights: str | None = None, repeats: int = 1) -> dict:
    from ..mimi import open_codec

    rng = np.random.default_rng(0)
    t = np.arange((frames_n + warmup) * 1920) / 24000
    audio = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    frames = audio.astype(np.float32).reshape(-1, 1920)
    results: dict = {"frames": frames_n, "warmup": warmup, "codebooks": codebooks, "backends": {}}
    with tempfile.TemporaryDirectory(prefix="moshi-bench-codec-") as tmp_dir:
        tmp = Path(tmp_dir)
        path = Path(weights) if weights else tmp / "tokenizer-random.safetensors"
        if not weights:
            _random_release_weights(path)
        results["weights"] = str(path) if weights else "random full-size (release format)"
        reference_codes, codecs, runs = None, {}, {}
        for r in range(repeats):
            for name in backends if r % 2 == 0 else backends[::-1]:
                if "error" in results["backends"].get(name, {}):
                    continue
                try:
                    if name == "kyutai-mlx":
                        enc, dec, codes, cpu = _run_kyutai(path, frames, warmup, codebooks, tmp)
                    else:
                        if name not in codecs:
                            codecs[name] = open_codec(path, name, codebooks)
                        enc, dec, codes, cpu = _run_codec(codecs[name], frames, warmup)
                except Exception as e:  # a missing optional backend is reported, not fatal
                    results["backends"][name] = {"error": str(e)}
                    continue
                runs.setdefault(name, []).append((enc, dec, cpu))
                if name not in results["backends"]:
                    entry = {}
                    if reference_codes is None:
                        reference_codes, entry["codes_agree_with"] = codes, None
                    else:
                        entry["codes_agree_with"] = float((codes == reference_codes).mean())
                    results["backends"][name] = entry
        for name, rs in runs.items():
            if "error" in results["backends"][name]:
                continue
            pool = [sum((list(r[i]) for r in rs), []) for i in range(2)]
            cpu = [sum((list(r[2][i]) for r in rs), []) for i in range(2)]
            results["backends"][name] |= {
                "encode_ms": timing_stats(pool[0]), "decode_ms": timing_stats(pool[1]),
                "encode_cpu_ms": timing_stats(cpu[0]), "decode_cpu_ms": timing_stats(cpu[1]),
                "runs_wall_ms": [float(np.median(r[0]) + np.median(r[1])) for r in rs],
                "runs_cpu_ms": [float(np.median(r[2][0]) + np.median(r[2][1])) for r in rs]}
    ours, theirs = results["backends"].get("mlx", {}), results["backends"].get("kyutai-mlx", {})
    if "encode_ms" in ours and "encode_ms" in theirs:
        results["ratio_mlx_vs_kyutai"] = {
            op: ours[f"{op}_ms"]["mean"] / theirs[f"{op}_ms"]["mean"] for op in ("encode", "decode")}
        # medians of per-frame CPU time, and of the runs' encode+decode medians (ABBA repeats)
        results["ratio_cpu_mlx_vs_kyutai"] = {
            op: ours[f"{op}_cpu_ms"]["median"] / theirs[f"{op}_cpu_ms"]["median"]
            for op in ("encode", "decode")}
        results["ratio_runs_mlx_vs_kyutai"] = {  # encode+decode, medians of the runs' medians
            kind: float(np.median(ours[f"runs_{kind}_ms"])) / float(np.median(theirs[f"runs_{kind}_ms"]))
            for kind in ("cpu", "wall")}
    return results


def _table(res: dict) -> str:
    first = next(iter(res["backends"]), None)
    lines = [f"Mimi streaming, ms per 80 ms frame ({res['frames']} frames after {res['warmup']} warm-up, "
             f"{res['codebooks']} codebooks, {res['weights']})",
             f"| backend | encode mean | encode p90 | decode mean | decode p90 | codes = {first} |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, e in res["backends"].items():
        if "error" in e:
            lines.append(f"| {name} | error: {e['error']} | | | | |")
            continue
        agree = "-" if e["codes_agree_with"] is None else f"{e['codes_agree_with']:.1%}"
        lines.append(f"| {name} | {e['encode_ms']['mean']:.1f} | {e['encode_ms']['p90']:.1f} | "
                     f"{e['decode_ms']['mean']:.1f} | {e['decode_ms']['p90']:.1f} | {agree} |")
    if "ratio_mlx_vs_kyutai" in res:
        r = res["ratio_mlx_vs_kyutai"]
        lines.append(f"ratio ours / Kyutai's MLX: encode {r['encode']:.2f}, decode {r['decode']:.2f}")
    if "ratio_cpu_mlx_vs_kyutai" in res:
        for name, e in res["backends"].items():
            if "runs_cpu_ms" in e:
                lines.append(f"{name}: CPU ms per frame (encode median {e['encode_cpu_ms']['median']:.1f}, "
                             f"decode {e['decode_cpu_ms']['median']:.1f}); runs' encode+decode medians, CPU "
                             + ", ".join(f"{v:.1f}" for v in e["runs_cpu_ms"]) + "; wall "
                             + ", ".join(f"{v:.1f}" for v in e["runs_wall_ms"]))
        r = res["ratio_cpu_mlx_vs_kyutai"]
        runs = res["ratio_runs_mlx_vs_kyutai"]
        lines.append(f"ratio ours / Kyutai's MLX, CPU time (robust to other loads): encode "
                     f"{r['encode']:.2f}, decode {r['decode']:.2f}; encode+decode (medians of the runs) "
                     f"{runs['cpu']:.2f} (wall {runs['wall']:.2f})")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        from ..errors import ConfigError

        raise ConfigError(f"unknown codec backends {sorted(unknown)} (choose from {', '.join(BACKENDS)})")
    res = run(args.frames, args.warmup, args.codebooks, backends, args.weights, max(1, args.repeats))
    print(json.dumps(res, indent=2) if args.json else _table(res))
    return 0
