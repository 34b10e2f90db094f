"""`bench lm --kv-bits N --compare-kv [--kv-agreement-frames F]`: the quantized KV cache against the
float one on the same random weights: peak memory with the ring at full context (the generator
moved to offset `context`, so every step attends to all of it, as late in a 3000-frame
conversation) and token agreement over F greedy frames, free-running and teacher-forced."""

from __future__ import annotations

import dataclasses


def _greedy_gen(model, dtype, kv_bits):
    from ..lm import LmGen, make_sampler

    return LmGen(model, make_sampler(0.0), make_sampler(0.0), seed=0, dtype=dtype, kv_bits=kv_bits)


def full_context_memory(model, config, dtype, kv_bits: int | None, steps: int = 3) -> dict:
    """MLX peak memory over `steps` greedy frames at offset `context` (the full ring attended),
    measured from a clean peak with the weights (and nothing else of ours) resident."""
    import gc

    import mlx.core as mx
    import numpy as np

    gen = _greedy_gen(model, dtype, kv_bits)
    gen.restore(dataclasses.replace(gen.snapshot(), offset=config.context))  # the snapshot is not kept
    gc.collect()
    mx.clear_cache()
    mx.reset_peak_memory()
    resident = mx.get_active_memory()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        gen.step(rng.integers(0, config.card, config.user_codebooks))
    out = {"kv_bits": kv_bits, "kv_cache_bytes": gen._kv.nbytes,
           "kv_bytes_per_frame": gen._kv.nbytes / config.context,
           "mlx_peak_bytes": mx.get_peak_memory(), "resident_before_bytes": resident}
    del gen
    gc.collect()
    mx.clear_cache()
    return out


def free_running_agreement(model, config, dtype, kv_bits: int, frames: int) -> dict:
    """Greedy generators with and without the quantized cache on the same user codes: the share
    of equal tokens (text and audio) and the first frame that differs (after which the streams
    have different histories: on random weights near-ties make that early)."""
    import numpy as np

    streams = []
    for bits in (None, kv_bits):
        gen, rng, out = _greedy_gen(model, dtype, bits), np.random.default_rng(1), []
        for _ in range(frames):
            step = gen.step(rng.integers(0, config.card, config.user_codebooks))
            if step is not None:
                out.append([step.text_token, *step.audio_codes])
        streams.append(np.array(out))
    same = streams[0] == streams[1]
    differ = np.flatnonzero(~same.all(axis=1))
    return {"frames": len(same), "token_agreement": float(same.mean()),
            "text_agreement": float(same[:, 0].mean()),
            "first_differing_frame": int(differ[0]) if differ.size else None}


def teacher_forced_agreement(model, config, dtype, kv_bits: int, frames: int) -> dict:
    """The same random input frames through both caches, each frame's greedy text token and greedy
    codebooks (the depformer given that frame's text token) compared: the per-frame effect of the
    quantized keys and values without diverging histories."""
    import mlx.core as mx
    import numpy as np

    from ..lm.kv_cache import caches_over

    def greedy(logits, key):
        return mx.argmax(logits, axis=-1).astype(mx.int32)

    inputs = np.random.default_rng(2).integers(0, config.card, (frames, config.num_codebooks))
    keys = [mx.zeros((2,), dtype=mx.uint32)] * config.dep_q
    tokens = []
    for bits in (None, kv_bits):
        kv = model.make_cache(1, dtype, bits)
        group = kv.layers[0].group_size

        def step(tok, offset, *arrays):
            out, logits, caches = model.temporal(tok, caches_over(arrays, bits, group), offset, dtype)
            text = greedy(logits, None)
            codes = model.depformer_sample(out, text, greedy, keys)
            return (mx.concatenate([text[:, None], codes], axis=1), *caches)

        fn, arrays, out = mx.compile(step), list(kv), []
        del kv
        for t in range(frames):
            result, *arrays = fn(mx.array(inputs[t][None], dtype=mx.int32), mx.array(t, dtype=mx.int32), *arrays)
            out.append(np.array(result[0]))
        tokens.append(np.stack(out))
    same = tokens[0] == tokens[1]
    return {"frames": frames, "token_agreement": float(same.mean()), "text_agreement": float(same[:, 0].mean()),
            "audio_agreement": float(same[:, 1:].mean()) if same.shape[1] > 1 else None}


def compare_kv(model, config, dtype, kv_bits: int, frames: int = 0) -> dict:
    """Memory at full context with and without the quantized cache; with `frames`, agreement."""
    memory = [full_context_memory(model, config, dtype, bits) for bits in (None, kv_bits)]
    out = {"memory": memory, "peak_saved_bytes": memory[0]["mlx_peak_bytes"] - memory[1]["mlx_peak_bytes"]}
    if frames:
        out["free_running"] = free_running_agreement(model, config, dtype, kv_bits, frames)
        out["teacher_forced"] = teacher_forced_agreement(model, config, dtype, kv_bits, frames)
    return out


def table_lines(r: dict) -> list[str]:
    gib = 1024 ** 3
    lines = ["  KV cache quantization (full context; agreement with the float cache, greedy):"]
    for m in r["memory"]:
        name = "float" if m["kv_bits"] is None else f"{m['kv_bits']}-bit"
        lines.append(f"    {name:<6} KV cache {m['kv_cache_bytes'] / gib:.2f} GiB "
                     f"({m['kv_bytes_per_frame']:,.0f} bytes per frame), MLX peak "
                     f"{m['mlx_peak_bytes'] / gib:.2f} GiB (resident before: {m['resident_before_bytes'] / gib:.2f} GiB)")
    lines.append(f"    peak saved {r['peak_saved_bytes'] / gib:.2f} GiB")
    if "free_running" not in r:
        return lines
    f, t = r["free_running"], r["teacher_forced"]
    lines.append(f"    free-running {f['frames']} frames: tokens {f['token_agreement']:.1%} equal (text "
                 f"{f['text_agreement']:.1%}), first difference at frame {f['first_differing_frame']}")
    audio = "" if t["audio_agreement"] is None else f", audio {t['audio_agreement']:.1%}"
    lines.append(f"    teacher-forced {t['frames']} frames: tokens {t['token_agreement']:.1%} equal (text "
                 f"{t['text_agreement']:.1%}{audio})")
    return lines
