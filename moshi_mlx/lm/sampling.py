"""Token samplers: small callables outside the model, with explicit random keys.

Explicit keys (instead of mlx-lm's global random state) keep two generators independent and
seedable, and let the whole frame be one compiled function. The top-k / top-p filters are mlx-lm's."""

from __future__ import annotations

import mlx.core as mx
from mlx_lm.sample_utils import apply_top_k, apply_top_p


def make_sampler(temperature: float, top_k: int | None = None, top_p: float | None = None):
    """(logits [B, V], key) -> tokens [B] int32. temperature 0: greedy (argmax, key unused).
    Otherwise softmax(logits / temperature) restricted to the top_k tokens and/or the top_p mass,
    like Kyutai's `sample_token`."""
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

    def sample(logits: mx.array, key: mx.array) -> mx.array:
        logprobs = nn_log_softmax(logits.astype(mx.float32) / temperature)
        if top_k is not None and top_k < logits.shape[-1]:
            logprobs = apply_top_k(logprobs, top_k)
        if top_p is not None and top_p < 1:
            logprobs = apply_top_p(logprobs, top_p)
        return mx.random.categorical(logprobs, axis=-1, key=key).astype(mx.int32)

    return sample


def nn_log_softmax(x: mx.array) -> mx.array:
    return x - mx.logsumexp(x, axis=-1, keepdims=True)
