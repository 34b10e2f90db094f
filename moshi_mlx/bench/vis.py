"""`bench lm --config moshivis`: what the image costs. Once per image: the SigLIP tower + projection
+ the shared cross-attention's keys and values. Per frame: the step with the image attended to vs
the same model's step without an image: two generators on the same warm model, fed the same
input, stepped in turn (ABBA, step by step), so that a change of load hits both alike; the ratio is
the median of the per-step ratios (per-run medians are reported too)."""

from __future__ import annotations

import time

import numpy as np

from .stats import timing_stats


def vis_configs(args):
    """(LmConfig, VisConfig): the release (Moshi 7B + PaliGemma2-448's SigLIP); with --dim, the LM
    that wide and a tower of the same width, 2 layers, 448x448 (the release's 1024 image tokens)."""
    from ..lm import LmConfig
    from ..vis.config import SiglipConfig, VisConfig

    config = LmConfig.moshi_7b()
    vis = VisConfig()
    if args.dim:
        heads = max(1, args.dim // 32)
        config = LmConfig.from_dict(config.to_dict() | dict(
            dim=args.dim, num_heads=heads, depformer_dim=args.dim, depformer_num_heads=heads,
            depformer_dim_feedforward=int(config.hidden_scale * args.dim)))
        vis = VisConfig(vision=SiglipConfig(hidden_size=args.dim, intermediate_size=4 * args.dim,
                                            num_hidden_layers=2, num_attention_heads=heads, image_size=448))
    return config, vis


def bench_image(model, gen, config, steps: int, warmup: int, repeats: int) -> dict:
    import mlx.core as mx

    from ..lm import LmGen
    from ..vis.lm import image_source

    size = model.image.encoder.config.image_size
    pixels = mx.array(np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32))
    t = time.perf_counter()
    source = image_source(model, pixels)
    mx.eval(source)
    encode_ms = 1000 * (time.perf_counter() - t)
    t = time.perf_counter()
    gen.set_cross(source, start=0)  # keys and values of the image, once
    kv_ms = 1000 * (time.perf_counter() - t)

    plain = LmGen(model, gen.text_sampler, gen.audio_sampler, seed=0, dtype=gen.dtype)
    runs = {"image": [], "plain": []}
    ratios = []
    for _ in range(max(1, repeats)):
        image_ms, plain_ms = paired_steps(gen, plain, config, steps, warmup)
        runs["image"].append(float(np.median(image_ms)))
        runs["plain"].append(float(np.median(plain_ms)))
        ratios += list(np.array(image_ms) / np.array(plain_ms))
    return {"image_tokens": int(source.shape[1]), "encode_ms": round(encode_ms, 1),
            "cross_kv_ms": round(kv_ms, 1), "ms": runs,
            "step_ms_image": timing_stats(runs["image"]), "step_ms_plain": timing_stats(runs["plain"]),
            "ratio": float(np.median(ratios)),
            "ratio_of_medians": float(np.median(runs["image"]) / np.median(runs["plain"]))}


def paired_steps(image, plain, config, steps: int, warmup: int) -> tuple[list, list]:
    """ms per step of each generator (from a fresh state, the same random user codes), stepped in
    turn: image then plain, then plain then image, ..."""
    image.reset(seed=0)
    plain.reset(seed=0)
    rng = np.random.default_rng(0)
    times = {id(image): [], id(plain): []}
    for i in range(steps + warmup):
        user = rng.integers(0, config.card, config.user_codebooks)
        for gen in (image, plain) if i % 2 == 0 else (plain, image):
            t = time.perf_counter()
            gen.step(user)
            if i >= warmup:
                times[id(gen)].append(1000 * (time.perf_counter() - t))
    return times[id(image)], times[id(plain)]


def table_lines(r: dict) -> list[str]:
    return [f"  image     {r['image_tokens']} tokens: encoded once in {r['encode_ms']:.1f} ms "
            f"(+ {r['cross_kv_ms']:.1f} ms for the cross-attention keys/values)",
            f"  step with the image vs without, stepped in turn, median ms per run: "
            f"{', '.join(f'{v:.1f}' for v in r['ms']['image'])} vs "
            f"{', '.join(f'{v:.1f}' for v in r['ms']['plain'])}",
            f"  image/plain {r['ratio']:.3f}x (median of the per-step ratios; of the run medians "
            f"{r['ratio_of_medians']:.3f}x)"]
