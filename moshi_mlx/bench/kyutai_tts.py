"""Baseline runner: Kyutai's moshi_mlx 0.3.0 TTS (`TTSModel.generate`) on random weights, timed.

Run as a script with PYTHONPATH=<repo>/.venv/kyutai-moshi-mlx (Kyutai's package has our import
name, so this file imports nothing of ours). Reads a JSON job on argv[1]; prints one JSON line: the
time from the start of generation to the first frame with audio tokens (the LM alone: Kyutai's
generate does not decode), and ms per step (between consecutive text hooks, i.e. whole steps).
Quantized as ours is (job "quantize": "all") or as Kyutai's run_tts.py does ("run_tts")."""

import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import sentencepiece
from moshi_mlx.models.tts import TTSModel


class _FrameRate:
    """Kyutai's TTSModel reads only the codec's frame rate and resets it; nothing is decoded."""

    frame_rate = 12.5

    def reset_all(self) -> None:
        pass


def _quantize_as_run_tts(model, bits: int, group_size: int) -> None:
    """What Kyutai's run_tts.py quantizes: the depformer, each layer's self-attention and MLP."""
    nn.quantize(model.depformer, bits=bits, group_size=group_size)
    for layer in model.transformer.layers:
        nn.quantize(layer.self_attn, bits=bits, group_size=group_size)
        nn.quantize(layer.gating, bits=bits, group_size=group_size)


def _quantize_all(model, bits: int, group_size: int) -> None:
    """Every Linear and Embedding the group size divides, as ours, but the conditioners and the
    cross-attention (Kyutai's reads its projection weights directly: it cannot be quantized)."""
    nn.quantize(model, bits=bits, group_size=group_size, class_predicate=lambda path, m: (
        hasattr(m, "to_quantized") and m.weight.shape[-1] % group_size == 0
        and not path.startswith("condition_provider") and "cross_attention" not in path))


def _runner_module(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    job = json.loads(sys.argv[1])
    quantize = _quantize_all if job.get("quantize") == "all" else _quantize_as_run_tts
    cfg, model = _runner_module("kyutai_lm").random_model(job, quantize)
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=job["tokenizer"])
    raw = {"model_id": job["model_id"], "tts_config": job["tts_config"]}
    tts = TTSModel(model, _FrameRate(), tokenizer, temp=0.6, n_q=cfg.audio_codebooks,
                   max_gen_length=job["steps"], raw_config=raw)
    with tempfile.TemporaryDirectory() as tmp:
        voice = Path(tmp) / "voice.safetensors"
        emb = np.random.default_rng(0).standard_normal((1, job["speaker_dim"], 125)).astype(np.float32)
        mx.save_safetensors(str(voice), {"speaker_wavs": mx.array(emb)})
        attributes = tts.make_condition_attributes([voice], cfg_coef=job["cfg"])
    entries = tts.prepare_script([job["text"]], padding_between=1)
    results = []
    for run in range(2):  # the first run warms up (Kyutai's steps are not compiled: short)
        hooks, first = [], []
        start = time.perf_counter()
        tts.max_gen_length = job["steps"] if run else 8
        tts.generate([entries], [attributes],
                     on_text_hook=lambda tokens: hooks.append(time.perf_counter()),
                     on_frame=lambda frame: first or first.append(time.perf_counter()))
        results.append({"first_frame_s": (first[0] - start) if first else None,
                        "step_ms": [1000 * (b - a) for a, b in zip(hooks, hooks[1:])],
                        "steps": len(hooks)})
    out = results[-1]
    out["peak_memory"] = mx.get_peak_memory()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
