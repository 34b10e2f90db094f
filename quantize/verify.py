"""--verify: the original and the converted LM side by side on a fixed input.

Both models see the same token history (teacher forcing): the user's audio codes come from a seeded
generator, and the text token and Moshi's codes fed back each frame are the ORIGINAL model's greedy
choices. Per frame we compare the text logits (top-1 agreement, KL(original || converted)) and the
depformer's logits for each of Moshi's codebooks (top-1 agreement)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from moshi_mlx.device import activation_dtype
from moshi_mlx.errors import ConfigError
from moshi_mlx.lm import Lm, LmConfig, LmGen, load_lm, make_sampler, translate_pytorch_tensor

from .readers import open_reader


@dataclass(frozen=True)
class Thresholds:
    min_text_agreement: float = 0.8
    min_audio_agreement: float = 0.5
    max_text_kl: float = 0.5


@dataclass(frozen=True)
class VerifyReport:
    frames: int
    text_agreement: float  # fraction of frames whose text top-1 matches
    audio_agreement: float  # fraction of (frame, codebook) whose audio top-1 matches
    text_kl: float  # mean KL(original || converted) of the text distributions, nats
    text_kl_max: float

    def passes(self, t: Thresholds) -> bool:
        return (self.text_agreement >= t.min_text_agreement and self.audio_agreement >= t.min_audio_agreement
                and self.text_kl <= t.max_text_kl)

    def format(self, t: Thresholds) -> str:
        verdict = "PASS" if self.passes(t) else "FAIL"
        return (f"verify over {self.frames} frames: text top-1 agreement {self.text_agreement:.1%} "
                f"(min {t.min_text_agreement:.1%}), audio top-1 agreement {self.audio_agreement:.1%} "
                f"(min {t.min_audio_agreement:.1%}), text KL mean {self.text_kl:.4f} max "
                f"{self.text_kl_max:.4f} nats (max {t.max_text_kl}): {verdict}")


def load_original(lm_path: str | Path, config: LmConfig, dtype: mx.Dtype | None = None, vis=None) -> Lm:
    """The unconverted model straight from the PyTorch checkpoint (safetensors or pickle);
    `vis`: a MoshiVis one (its VisConfig)."""
    dtype = dtype or activation_dtype()
    translate = translate_pytorch_tensor
    if vis is not None:
        from moshi_mlx.vis.weights import translate_tensor as translate
    reader = open_reader(Path(lm_path))
    weights = {}
    try:
        for key in reader.tensors:
            for name, value in translate(key, reader.load(key), config):
                weights[name] = value.astype(dtype) if mx.issubdtype(value.dtype, mx.floating) else value
    finally:
        reader.close()
    if vis is not None:
        from moshi_mlx.vis.lm import build_vis_lm

        model = build_vis_lm(config, vis)
    else:
        model = Lm(config)
    model.load_weights(list(weights.items()), strict=True)
    mx.eval(model.parameters())
    return model


def load_converted(folder: str | Path, dtype: mx.Dtype | None = None) -> Lm:
    """A converted folder, loaded the way the engine loads it."""
    from moshi_mlx.vis.loading import folder_config, load_vis_lm

    if folder_config(Path(folder)) is not None:
        return load_vis_lm(Path(folder), dtype=dtype)
    return load_lm(Path(folder), dtype=dtype)


def compare(original: Lm, converted: Lm, frames: int = 16, seed: int = 1234) -> VerifyReport:
    """Runs both models for `frames` frames on the same seeded input; see the module docstring."""
    c = original.config
    if converted.config != c:
        raise ConfigError("the original and converted models have different configs")
    if frames < 1:
        raise ConfigError(f"--verify-frames must be >= 1, got {frames}")
    dtype = activation_dtype()
    greedy = make_sampler(0.0)
    rng = np.random.default_rng(seed)
    cond_o, cond_c = (_conditions(m, dtype, seed) for m in (original, converted))
    book = LmGen(original, greedy, greedy, seed=0, conditions=cond_o)  # only its delay buffer is used
    cross_o, cross_c = original.cross_kv(cond_o.cross), converted.cross_kv(cond_c.cross)
    user = rng.integers(0, c.card, size=(frames, c.user_codebooks))
    kv_o, kv_c = original.make_cache(1, dtype), converted.make_cache(1, dtype)
    keys = mx.random.split(mx.random.key(0), max(c.dep_q, 1))
    text_hits, audio_hits, kls = 0, 0, []
    for i in range(frames):
        tokens = mx.array(book.frame_input(user[i])[None], dtype=mx.int32)
        offset = mx.array(book.offset, dtype=mx.int32)
        out_o, text_o, kv_o = original.temporal(tokens, kv_o, offset, dtype, None, cond_o.sum, cross_o)
        out_c, text_c, kv_c = converted.temporal(tokens, kv_c, offset, dtype, None, cond_c.sum, cross_c)
        text = mx.argmax(text_o, axis=-1).astype(mx.int32)
        logp_o = _log_softmax(text_o)
        logp_c = _log_softmax(text_c)
        kl = (mx.exp(logp_o) * (logp_o - logp_c)).sum(axis=-1)
        generated = [text[:, None]]
        if c.dep_q:
            codes = original.depformer_sample(out_o, text, greedy, keys)
            prev = mx.concatenate([text[:, None], codes[:, :-1]], axis=1)
            hits = mx.argmax(original.depformer_logits(out_o, prev), -1) == \
                mx.argmax(converted.depformer_logits(out_c, prev), -1)
            generated.append(codes)
            audio_hits += int(hits.sum().item())
        text_hits += int((mx.argmax(text_c, axis=-1) == text).sum().item())
        kls.append(float(kl.item()))
        book.record(np.array(mx.concatenate(generated, axis=1))[0].astype(np.int64))
    return VerifyReport(frames, text_hits / frames,
                        audio_hits / (frames * c.dep_q) if c.dep_q else 1.0,
                        float(np.mean(kls)), float(np.max(kls)))


def verify(output: str | Path, original_lm: str | Path, frames: int = 16, seed: int = 1234) -> VerifyReport:
    """Loads the converted folder and the original LM file it came from, and compares them."""
    converted = load_converted(output)
    original = load_original(original_lm, converted.config, vis=getattr(converted, "vis_config", None))
    return compare(original, converted, frames=frames, seed=seed)


def _conditions(model: Lm, dtype: mx.Dtype, seed: int):
    """Conditioned models (Hibiki, TTS) are compared under one fixed condition: each LUT's last
    value, seeded random tensors (10 s of speaker embeddings for TTS)."""
    from moshi_mlx.lm.conditioners import Conditions, conditioner_specs, make_conditions

    specs = conditioner_specs(model.config)
    if not specs:
        return Conditions()
    rng = np.random.default_rng(seed)
    row = {s.name: (s.possible_values[-1] if s.possible_values else "0") if s.kind == "lut"
           else rng.standard_normal((125, s.dim)).astype(np.float32) for s in specs}
    return make_conditions(model, [row], dtype)


def _log_softmax(x: mx.array) -> mx.array:
    x = x.astype(mx.float32)
    return x - mx.logsumexp(x, axis=-1, keepdims=True)
