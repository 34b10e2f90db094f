"""Token samplers: small callables outside the model, with explicit random keys.

Explicit keys (instead of mlx-lm's global random state) keep two generators independent and
seedable, and let the whole frame be one compiled function. Top-k is a threshold at the k-th
largest logit (one partition) rather than mlx-lm's `apply_top_k` (argpartition + scatter): a frame
samples nine times, and on MLX's CPU backend every graph node costs microseconds. Top-p, off by
default, is mlx-lm's `apply_top_p`."""

from __future__ import annotations

import mlx.core as mx


def make_sampler(temperature: float, top_k: int | None = None, top_p: float | None = None):
    """(logits [B, V], key) -> tokens [B] int32. temperature 0: greedy (argmax, key unused).
    Otherwise softmax(logits / temperature) restricted to the top_k tokens (and any tied with the
    k-th) and/or the top_p mass, like Kyutai's `sample_token`."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")

    def greedy(logits: mx.array, key: mx.array | None = None) -> mx.array:
        return mx.argmax(logits, axis=-1).astype(mx.int32)

    if temperature == 0 or top_k == 1:
        return greedy
    nucleus = None
    if top_p is not None and top_p < 1:
        from mlx_lm.sample_utils import apply_top_p as nucleus  # imports transformers: only when asked

    def sample(logits: mx.array, key: mx.array) -> mx.array:
        x = logits.astype(mx.float32) / temperature
        vocab = x.shape[-1]
        if top_k is not None and top_k < vocab:
            cut = vocab - top_k  # the k-th largest value sits at index V - k once partitioned
            kth = mx.partition(x, cut, axis=-1)[..., cut:cut + 1]
            x = mx.where(x < kth, -mx.inf, x)
        if nucleus is not None:
            x = nucleus(x - mx.logsumexp(x, axis=-1, keepdims=True), top_p)
        return mx.random.categorical(x, axis=-1, key=key).astype(mx.int32)

    return sample
