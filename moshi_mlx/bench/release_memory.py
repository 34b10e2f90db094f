"""`bench assistant --release-memory LLM`: the whole assistant stack's peak memory at release shapes,
4-bit, random weights: Kyutai STT 1B (preset stt-1b) + Kyutai TTS 1.6B (preset tts-1.6b) sharing
one release-size Mimi (as an assistant session shares it: both releases name the same Mimi
weights), + a chat LLM of a real model's shape (mlx-lm's own model class), all three loaded in one
process, then a short turn through them: STT frames, an LLM prefill and a few tokens, TTS steps up
to its first audio frames.

Every model is built with random weights quantized as it is built (the Kyutai LMs module by module,
the TTS's depformer steps sharing their weight sets as the loader shares them, the LLM layer by
layer, its embedding in row blocks), so that no full-precision copy of a whole model ever exists:
the peak is the models plus what running them takes, not the building. Measured: the process's RSS
high-water mark (getrusage) after loading and after the turn, MLX's peak allocation, the
parameters' bytes per model (an array shared by several names counted once) and, per model, the
largest tensor groups. `--dtype`: the activation dtype (scales, biases, norms, caches and
activations; default the device's: fp32 on the CPU backend, bf16 on a Mac GPU); the Mimi stays
float32 on every device. `param_gb_bf16` is the same models with float32 Kyutai/LLM tensors in bf16."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from .stats import peak_rss_bytes

# mlx-lm ModelArgs of each shape (config.json values of the released models; weights random)
LLM_SHAPES = {
    "qwen3-4b": ("qwen3", dict(hidden_size=2560, num_hidden_layers=36, intermediate_size=9728,
                               num_attention_heads=32, num_key_value_heads=8, head_dim=128, vocab_size=151936,
                               rms_norm_eps=1e-6, max_position_embeddings=40960, rope_theta=1000000.0,
                               tie_word_embeddings=True)),
    "qwen3-1.7b": ("qwen3", dict(hidden_size=2048, num_hidden_layers=28, intermediate_size=6144,
                                 num_attention_heads=16, num_key_value_heads=8, head_dim=128, vocab_size=151936,
                                 rms_norm_eps=1e-6, max_position_embeddings=40960, rope_theta=1000000.0,
                                 tie_word_embeddings=True)),
    "llama-3.2-1b": ("llama", dict(hidden_size=2048, num_hidden_layers=16, intermediate_size=8192,
                                   num_attention_heads=32, num_key_value_heads=8, head_dim=64, vocab_size=128256,
                                   rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True)),
}
LLM_GROUP = 64  # mlx-community's 4-bit checkpoints
# The short turn: (STT frames, LLM prefill tokens, LLM tokens, TTS steps at most). On a 2-core CPU a
# 300-token prefill of a 4B model takes minutes; memory hardly depends on these (the STT's and TTS's
# caches are allocated whole, the LLM's in blocks of 256 tokens, the TTS's tables at its first step).
# With bf16 activations the CPU backend's quantized matmuls are ~8x slower: a shorter turn.
TURN = {"float32": (10, 64, 4, 4), "bfloat16": (4, 8, 2, 2)}
TTS_AUDIO_FRAMES = 1  # the first audio comes after the TTS's delay (16 steps): not reached


def _log(what: str, t0: float = [0.0]) -> None:
    """Progress on stderr: the stage, the current and peak RSS."""
    import sys

    rss = int(open("/proc/self/statm").read().split()[1]) * 4096 if Path("/proc/self/statm").exists() else 0
    print(f"[release-memory] {what}: rss {rss / 1e9:.2f} GB, peak {peak_rss_bytes() / 1e9:.2f} GB, "
          f"{time.perf_counter():.0f} s", file=sys.stderr, flush=True)


def param_bytes(module, keep_f32: bool = False) -> tuple[int, int]:
    """(bytes of the parameters, the same with float32 ones in bf16 unless `keep_f32`), each array
    counted once."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    arrays = {id(p): p for _, p in tree_flatten(module.parameters())}.values()
    total = sum(p.nbytes for p in arrays)
    bf16 = sum(p.nbytes // 2 if p.dtype == mx.float32 and not keep_f32 else p.nbytes for p in arrays)
    return total, bf16


def tensor_groups(module, top: int = 8) -> dict[str, float]:
    """GB per tensor group (names with the layer and step numbers folded: `transformer.layers.N.gating`),
    the `top` largest, each array counted once."""
    import re

    from mlx.utils import tree_flatten

    groups: dict[str, int] = {}
    seen: set[int] = set()
    for name, p in tree_flatten(module.parameters()):
        if id(p) in seen:
            continue
        seen.add(id(p))
        key = ".".join(re.sub(r"\.\d+(?=\.|$)", ".N", name).split(".")[:4])
        groups[key] = groups.get(key, 0) + p.nbytes
    return {k: v / 1e9 for k, v in sorted(groups.items(), key=lambda kv: -kv[1])[:top]}


def build_llm(shape: str, dtype):
    """A random 4-bit chat model of `shape` (mlx-lm's class), layer by layer; the embedding
    (tied: also the output head) quantized in blocks of rows."""
    import importlib

    import mlx.core as mx
    import mlx.nn as nn
    kind, shape_args = LLM_SHAPES[shape]
    arch = importlib.import_module(f"mlx_lm.models.{kind}")
    mx.random.seed(0)
    model = arch.Model(arch.ModelArgs(model_type=kind, **shape_args))
    inner = model.model
    dims, vocab = shape_args["hidden_size"], shape_args["vocab_size"]
    inner.embed_tokens = nn.Embedding(1, dims)  # replaced below, never built whole in fp32
    model.set_dtype(dtype)  # quantized from weights in `dtype`: no float32 scales to cast
    nn.quantize(model, group_size=LLM_GROUP, bits=4)

    def cast(module):
        for _, m in module.named_modules():
            if isinstance(m, (nn.QuantizedLinear, nn.QuantizedEmbedding)):
                m.scales, m.biases = m.scales.astype(dtype), m.biases.astype(dtype)
            elif isinstance(m, nn.RMSNorm):
                m.weight = m.weight.astype(dtype)
        mx.eval(module.parameters())

    for layer in inner.layers:
        cast(layer)
    cast(inner.norm)
    parts = []
    for start in range(0, vocab, 8192):
        rows = min(8192, vocab - start)
        q = mx.quantize((0.02 * mx.random.normal((rows, dims))).astype(dtype), LLM_GROUP, 4)
        mx.eval(q)
        parts.append(q)
    embed = nn.QuantizedEmbedding(1, dims, LLM_GROUP, 4)
    embed.weight, embed.scales, embed.biases = (mx.concatenate([p[i] for p in parts]) for i in range(3))
    embed.scales, embed.biases = embed.scales.astype(dtype), embed.biases.astype(dtype)
    embed.num_embeddings = vocab
    del parts
    mx.eval(embed.parameters())
    inner.embed_tokens = embed
    return model


def run(args) -> dict:
    import mlx.core as mx

    from ..device import activation_dtype
    from ..stt.bench import _random_model as random_stt
    from ..stt.transcriber import Transcriber
    from ..mimi.codec import MlxCodec
    from ..tts.info import TtsInfo
    from ..tts.synth import Synthesizer, TtsSettings
    from .tts import _random_model as random_tts
    from .tts import _voices

    from ..device import force_activation_dtype, parse_dtype

    force_activation_dtype(parse_dtype(getattr(args, "dtype", None)))
    dtype = activation_dtype()
    stt_frames, prefill, llm_tokens, tts_max_steps = TURN.get(str(dtype).split(".")[-1], TURN["bfloat16"])
    out: dict = {"llm_shape": args.release_memory, "bits": 4, "device": str(mx.default_device()),
                 "dtype": str(dtype), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        (Path(tmp) / "stt").mkdir()
        (Path(tmp) / "tts").mkdir()
        stt = random_stt(argparse.Namespace(config="stt-1b", bits=4, group_size=None, dim=None,
                                            codec_backend="mlx"), Path(tmp) / "stt")
        mx.clear_cache()  # building's temporaries (full-precision blocks) are not the models
        _log("stt built")
        tts, _ = random_tts(argparse.Namespace(config="tts-1.6b", dim=None, bits=4, group_size=None, mimi="tiny"),
                            Path(tmp) / "tts")
        if tts.codec.num_codebooks != stt.codec.num_codebooks:
            raise RuntimeError("the STT's and the TTS's Mimi codebooks differ: not one Mimi")
        tts.codec = MlxCodec(stt.codec.model)  # one Mimi, a state each (assistant/session.py: MimiShare)
        mx.clear_cache()  # building's temporaries (full-precision blocks) are not the models
        _log("tts built")
        llm = build_llm(args.release_memory, dtype)
        mx.clear_cache()  # building's temporaries (full-precision blocks) are not the models
        _log("llm built")
        for name, module in (("stt-1b", stt.lm), ("tts-1.6b", tts.lm), ("mimi (shared)", stt.codec.model),
                             (args.release_memory, llm)):
            b, b16 = param_bytes(module, keep_f32=name.startswith("mimi"))
            out["models"][name] = {"param_gb": b / 1e9, "param_gb_bf16": b16 / 1e9, "groups": tensor_groups(module)}
        out["load_s"] = time.perf_counter() - t0
        out["peak_after_load_gb"] = peak_rss_bytes() / 1e9

        # a short turn: STT frames, the LLM's prefill and tokens, TTS steps to its first audio
        rng = np.random.default_rng(0)
        tr = Transcriber(stt)
        t = time.perf_counter()
        tr.push((0.1 * rng.standard_normal(stt_frames * tr.frame_size)).astype(np.float32))
        stt_s = time.perf_counter() - t
        _log("stt frames")
        from mlx_lm.models.cache import make_prompt_cache

        cache = make_prompt_cache(llm)
        prompt = mx.array(rng.integers(0, 1000, prefill)[None])
        t = time.perf_counter()
        logits = llm(prompt, cache=cache)
        token = mx.argmax(logits[:, -1], axis=-1)
        mx.eval(token)
        prefill_s = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(llm_tokens):
            token = mx.argmax(llm(token[:, None], cache=cache)[:, -1], axis=-1)
            mx.eval(token)
        tokens_s = time.perf_counter() - t
        _log("llm tokens")
        synth = Synthesizer(tts, _voices(tts, TtsInfo.from_model(tts)), TtsSettings(seed=0, final_padding=2))
        synth.push_text(" Hello there, it is sunny and twenty one degrees today.")
        synth.end_of_text()
        t = time.perf_counter()
        steps = audio = 0
        while audio < TTS_AUDIO_FRAMES and steps < tts_max_steps and synth.poll() == "step":
            steps += 1
            audio += synth.step() is not None
        tts_s = time.perf_counter() - t
        _log("tts steps")
    out["turn"] = {"stt_frames": stt_frames, "stt_s": stt_s, "llm_prefill_tokens": prefill,
                   "llm_prefill_s": prefill_s, "llm_tokens": llm_tokens, "llm_tokens_s": tokens_s,
                   "tts_steps": steps, "tts_audio_frames": audio, "tts_s": tts_s}
    out["param_gb"] = sum(m["param_gb"] for m in out["models"].values())
    out["param_gb_bf16"] = sum(m["param_gb_bf16"] for m in out["models"].values())
    out["mlx_peak_gb"] = mx.get_peak_memory() / 1e9
    out["peak_memory_gb"] = peak_rss_bytes() / 1e9
    out["measured"] = ("peak_memory_gb: the process's RSS high-water mark (getrusage) after building all "
                       "three models (4-bit random weights, quantized as built, one Mimi) and running a short "
                       f"turn through them, activations in {dtype}; param_gb: the sum of the parameters' bytes")
    return out


def main(args) -> dict:
    return run(args)
