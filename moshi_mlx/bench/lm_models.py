"""The LM benchmarks' model side: the config a `--config` names, random weights built module by
module, the conditions and text sampler a kind runs with, and the timed step loop."""

from __future__ import annotations

import time

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


def build_model(config, bits: int, group: int, dtype, vis=None):
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


def time_steps(gen, config, steps: int, warmup: int) -> list[float]:
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


