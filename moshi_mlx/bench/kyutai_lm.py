"""Baseline runner: Kyutai's moshi_mlx 0.3.0 generator on random weights, timed per step.

Run as a script with PYTHONPATH=<repo>/.venv/kyutai-moshi-mlx (Kyutai's package has our import name,
so this file imports nothing of ours but floor.py, by path). Reads a JSON job on argv[1], prints one
JSON line: ms per step, peak memory and, if asked, ms of the model's matmul floor."""

import importlib.util
import json
import sys
import time
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from moshi_mlx import models, utils


def random_model(job: dict, quantize=None):
    """(config, Kyutai's Lm) of job["lm_kwargs"] with random weights in job["dtype"]; below 16 bits
    `quantize(model, bits, group_size)` (default: every layer but the conditioners), scales and
    biases in bf16 as in Kyutai's q4/q8 files. Also used by kyutai_tts.py (loaded by path)."""
    mx.random.seed(0)
    cfg = models.LmConfig.from_config_dict(job["lm_kwargs"])
    model = models.Lm(cfg)
    if job["bits"] < 16:
        (quantize or _quantize_float_conditioners)(model, bits=job["bits"], group_size=job["group_size"])
    if job["dtype"] != "float32":
        model.set_dtype(getattr(mx, job["dtype"]))
    for _, module in model.named_modules():  # bf16 scales and biases, as in Kyutai's q4/q8 files
        if isinstance(module, (nn.QuantizedLinear, nn.QuantizedEmbedding)):
            module.scales = module.scales.astype(mx.bfloat16)
            module.biases = module.biases.astype(mx.bfloat16)
    # materialize module by module (the lazily created random weights never exist all at once)
    for _, module in model.named_modules():
        if not module.children():
            mx.eval(module.parameters())
    return cfg, model


def _quantize_float_conditioners(model, bits: int, group_size: int) -> None:
    # conditioners stay float (as in ours; Hibiki's 16-wide table cannot be grouped by 32)
    nn.quantize(model, bits=bits, group_size=group_size,
                class_predicate=lambda path, m: hasattr(m, "to_quantized")
                and not path.startswith("condition_provider"))


def main() -> None:
    job = json.loads(sys.argv[1])
    cfg, model = random_model(job)
    steps, warmup = job["steps"], job["warmup"]
    gen = models.LmGen(model=model, max_steps=steps + warmup + 5,
                       text_sampler=utils.Sampler(temp=job.get("text_temp", 0.7),
                                                  top_k=min(job.get("text_top_k", 25), cfg.text_out_vocab_size - 1)),
                       audio_sampler=utils.Sampler(temp=0.8, top_k=min(250, cfg.audio_vocab_size - 2)),
                       cfg_coef=job.get("cfg_coef", 1.0), check=False)
    # a LUT condition (Hibiki's "description"), as Kyutai's run_inference gives it to every step
    ct = model.condition_provider.condition_tensor(*job["condition"]) if job.get("condition") else None
    rng = np.random.default_rng(0)
    times, cpu = [], []
    for i in range(steps + warmup):
        user = mx.array(rng.integers(0, cfg.audio_vocab_size - 1, (1, cfg.other_codebooks)), dtype=mx.int32)
        t0, c0 = time.perf_counter(), time.process_time()
        if model.extra_heads:  # STT's end of turn: the heads' probabilities every frame, as ours
            text, heads = gen.step_with_extra_heads(user, ct)
            text, heads = text[0].item(), np.array(mx.stack(heads))
        else:
            text = gen.step(user, ct)[0].item()
        audio = gen.last_audio_tokens()
        if audio is not None:
            audio = np.array(audio)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        del text
    result = {"step_ms": [1000 * t for t in times], "peak_memory": mx.get_peak_memory(),
              "step_cpu_ms": [1000 * t for t in cpu]}  # this process's CPU time: robust to other loads
    if job.get("floor"):
        floor = _floor_module()
        result["floor_ms"] = floor.time_floor(floor.matmul_floor(model, getattr(mx, job["dtype"])), steps)
    print(json.dumps(result))


def _floor_module():
    spec = importlib.util.spec_from_file_location("bench_floor", Path(__file__).with_name("floor.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
