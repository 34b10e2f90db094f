"""The chat model's tokens one at a time, each computed when asked for.

mlx-lm's `generate_step` keeps the next token in flight (`mx.async_eval` on its own stream) while the
caller handles the current one. In the assistant the caller is the frame loop, which runs TTS steps
between tokens: the token in flight then competes with them (on the CPU backend a second thread on
the same cores, on a GPU work queued ahead of the TTS's), so the TTS's steps before its first audio
wait on LLM work the speech does not need yet. Here a token is computed only when the loop asks for
one. Same model calls, same sampler, same prefill chunks as mlx-lm: the same tokens."""

from __future__ import annotations

from typing import Callable, Iterator

PREFILL_STEP = 2048  # mlx-lm's prefill_step_size default


def tokens_on_demand(model, prompt, cache: list, sampler: Callable, max_tokens: int,
                     prefill_step: int = PREFILL_STEP) -> Iterator[tuple[int, object]]:
    """(token, log-probabilities [vocab]) for up to `max_tokens` tokens after `prompt` (int
    mx.array [T], T >= 1) with the model's `cache` (updated in place), like mlx-lm's generate_step.
    As there, each token given is already in the cache when it is given (its step is built, lazily:
    evaluated only when the next token is asked for, or by the cache's next use)."""
    import mlx.core as mx

    while prompt.size > 1:  # all but the last prompt token, in chunks; their logits are not needed
        n = min(prefill_step, prompt.size - 1)
        model(prompt[:n][None], cache=cache)
        mx.eval([c.state for c in cache])
        prompt = prompt[n:]

    def step(y):
        logits = model(y[None], cache=cache)[:, -1, :]
        logprobs = logits - mx.logsumexp(logits, keepdims=True)
        return sampler(logprobs), logprobs.squeeze(0)

    y, logprobs = step(prompt)
    for _ in range(max_tokens):
        mx.eval(y, logprobs)
        following = step(y)  # a graph only: nothing runs until the next token is asked for
        yield y.item(), logprobs
        y, logprobs = following
