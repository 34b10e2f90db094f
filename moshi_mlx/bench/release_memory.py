"""`bench assistant --release-memory LLM`: the whole assistant stack's peak memory at release shapes,
4-bit, random weights: Kyutai STT 1B (preset stt-1b) + Kyutai TTS 1.6B (preset tts-1.6b), each with
a release-size Mimi, + a chat LLM of a real model's shape (mlx-lm's own model class), all three
loaded in one process, then a short turn through them: STT frames, an LLM prefill and a few tokens,
TTS steps up to its first audio frames.

Every model is built with random weights quantized as it is built (the Kyutai LMs module by module,
the LLM layer by layer, its embedding in row blocks), so that no full-precision copy of a whole
model ever exists: the peak is the models plus what running them takes, not the building.
Measured: the process's RSS high-water mark (getrusage) after loading and after the turn, MLX's
peak allocation, and the sum of the parameters' bytes per model. Quantized scales and biases (and
norms) are in the device's activation dtype (fp32 on the CPU backend, bf16 on a Mac GPU, as the
loaders do); `param_gb_bf16` is the same models with those in bf16 (a Mac's)."""

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
PREFILL = 64  # on a 2-core CPU a 300-token prefill of a 4B model takes minutes; memory hardly depends on it
LLM_TOKENS = 4
STT_FRAMES = 10
TTS_AUDIO_FRAMES = 1
TTS_MAX_STEPS = 4  # the first audio comes after the TTS's delay (16 steps): a few steps only


def _log(what: str, t0: float = [0.0]) -> None:
    """Progress on stderr: the stage, the current and peak RSS."""
    import sys

    rss = int(open("/proc/self/statm").read().split()[1]) * 4096 if Path("/proc/self/statm").exists() else 0
    print(f"[release-memory] {what}: rss {rss / 1e9:.2f} GB, peak {peak_rss_bytes() / 1e9:.2f} GB, "
          f"{time.perf_counter():.0f} s", file=sys.stderr, flush=True)


def param_bytes(module) -> tuple[int, int]:
    """(bytes of the parameters, the same with float32 ones in bf16)."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    total = bf16 = 0
    for _, p in tree_flatten(module.parameters()):
        total += p.nbytes
        bf16 += p.nbytes // 2 if p.dtype == mx.float32 else p.nbytes
    return total, bf16


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
        q = mx.quantize(0.02 * mx.random.normal((rows, dims)), LLM_GROUP, 4)
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
    from ..tts.info import TtsInfo
    from ..tts.synth import Synthesizer, TtsSettings
    from .tts import _random_model as random_tts
    from .tts import _voices

    dtype = activation_dtype()
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
        tts, _ = random_tts(argparse.Namespace(config="tts-1.6b", dim=None, bits=4, group_size=None, mimi="full"),
                            Path(tmp) / "tts")
        mx.clear_cache()  # building's temporaries (full-precision blocks) are not the models
        _log("tts built")
        llm = build_llm(args.release_memory, dtype)
        mx.clear_cache()  # building's temporaries (full-precision blocks) are not the models
        _log("llm built")
        for name, module in (("stt-1b", stt.lm), ("stt mimi", stt.codec), ("tts-1.6b", tts.lm),
                             ("tts mimi", tts.codec), (args.release_memory, llm)):
            inner = getattr(module, "mimi", getattr(module, "model", module))
            try:
                b, b16 = param_bytes(inner)
            except AttributeError:
                b = b16 = None
            out["models"][name] = {"param_gb": b and b / 1e9, "param_gb_bf16": b16 and b16 / 1e9}
        out["load_s"] = time.perf_counter() - t0
        out["peak_after_load_gb"] = peak_rss_bytes() / 1e9

        # a short turn: STT frames, the LLM's prefill and tokens, TTS steps to its first audio
        rng = np.random.default_rng(0)
        tr = Transcriber(stt)
        t = time.perf_counter()
        tr.push((0.1 * rng.standard_normal(STT_FRAMES * tr.frame_size)).astype(np.float32))
        stt_s = time.perf_counter() - t
        _log("stt frames")
        from mlx_lm.models.cache import make_prompt_cache

        cache = make_prompt_cache(llm)
        prompt = mx.array(rng.integers(0, 1000, PREFILL)[None])
        t = time.perf_counter()
        logits = llm(prompt, cache=cache)
        token = mx.argmax(logits[:, -1], axis=-1)
        mx.eval(token)
        prefill_s = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(LLM_TOKENS):
            token = mx.argmax(llm(token[:, None], cache=cache)[:, -1], axis=-1)
            mx.eval(token)
        tokens_s = time.perf_counter() - t
        _log("llm tokens")
        synth = Synthesizer(tts, _voices(tts, TtsInfo.from_model(tts)), TtsSettings(seed=0, final_padding=2))
        synth.push_text(" Hello there, it is sunny and twenty one degrees today.")
        synth.end_of_text()
        t = time.perf_counter()
        steps = audio = 0
        while audio < TTS_AUDIO_FRAMES and steps < TTS_MAX_STEPS and synth.poll() == "step":
            steps += 1
            audio += synth.step() is not None
        tts_s = time.perf_counter() - t
        _log("tts steps")
    out["turn"] = {"stt_frames": STT_FRAMES, "stt_s": stt_s, "llm_prefill_tokens": PREFILL,
                   "llm_prefill_s": prefill_s, "llm_tokens": LLM_TOKENS, "llm_tokens_s": tokens_s,
                   "tts_steps": steps, "tts_audio_frames": audio, "tts_s": tts_s}
    out["param_gb"] = sum(m["param_gb"] or 0 for m in out["models"].values())
    out["param_gb_bf16"] = sum(m["param_gb_bf16"] or 0 for m in out["models"].values())
    out["mlx_peak_gb"] = mx.get_peak_memory() / 1e9
    out["peak_memory_gb"] = peak_rss_bytes() / 1e9
    out["measured"] = ("peak_memory_gb: the process's RSS high-water mark (getrusage) after building all "
                       "three models (4-bit random weights, quantized as built) and running a short turn "
                       "through them; param_gb: the sum of the parameters' bytes")
    return out


def main(args) -> dict:
    return run(args)
