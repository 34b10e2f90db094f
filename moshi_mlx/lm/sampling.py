"""Token samplers: small callables outside the model, with explicit random keys.

Explicit keys (instead of mlx-lm's global random state) keep two generators independent and
seedable, and let the whole frame be one compiled function. Top-k draws among the k best logits
only (one argpartition, then a Gumbel-max draw over k values) rather than mlx-lm's `apply_top_k`, which
scatters -inf over the rest of the vocabulary and draws over all of it: a frame samples nine times,
and random numbers for 32000 text logits cost more than the partition (0.95 -> 0.22 ms per text
sample on the CPU backend, compiled). Top-p, off by default, is mlx-lm's `apply_top_p`."""

from __future__ import annotations

import functools

import mlx.core as mx


@functools.lru_cache(maxsize=64)
def make_sampler(temperature: float, top_k: int | None = None, top_p: float | None = None):
    """(logits [B, V], key) -> tokens [B] int32 (its `column` attribute: the same as [B, 1]).
    temperature 0: greedy (argmax, key unused).
    Otherwise softmax(logits / temperature) restricted to the top_k tokens (exactly k, like
    torch.topk in Kyutai's `sample_token`) and/or the top_p mass of those. The same settings give
    the same function object, so generators with equal settings share compiled frames."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")

    def greedy_column(logits: mx.array, key: mx.array | None = None) -> mx.array:
        return mx.argmax(logits, axis=-1, keepdims=True).astype(mx.int32)

    def greedy(logits: mx.array, key: mx.array | None = None) -> mx.array:
        return mx.argmax(logits, axis=-1).astype(mx.int32)

    greedy.column = greedy_column
    if temperature == 0 or top_k == 1:
        return greedy
    nucleus = None
    if top_p is not None and top_p < 1:
        from mlx_lm.sample_utils import apply_top_p as nucleus  # imports transformers: only when asked

    def column(logits: mx.array, key: mx.array) -> mx.array:
        """The tokens as [B, 1]: the depformer's next input and output column as they are (no
        squeeze and expand_dims nodes per codebook, see Lm.depformer_sample)."""
        x, vocab, best = logits, logits.shape[-1], None
        if top_k is not None and top_k < vocab:  # the k best of logits / T are those of the logits
            best = mx.argpartition(x, vocab - top_k, axis=-1)[..., vocab - top_k:]  # [B, k], unordered
            x = mx.take_along_axis(x, best, axis=-1)
        x = x.astype(mx.float32) / temperature  # one fused node with the noise below
        if nucleus is not None:
            x = nucleus(x - mx.logsumexp(x, axis=-1, keepdims=True), top_p)
        # Gumbel-max: argmax(x + Gumbel noise) is a draw from softmax(x), in three graph nodes
        # (mx.random.categorical's inverse CDF takes a dozen: a frame samples nine times)
        token = mx.argmax(x + mx.random.gumbel(x.shape, key=key), axis=-1, keepdims=True)
        if best is not None:
            token = mx.take_along_axis(best, token, axis=-1)
        return token.astype(mx.int32)

    def sample(logits: mx.array, key: mx.array) -> mx.array:
        return column(logits, key)[..., 0]

    sample.column = column
    return sample
