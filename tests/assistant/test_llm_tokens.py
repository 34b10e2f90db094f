"""tokens_on_demand gives mlx-lm generate_step's tokens and log-probabilities (greedy and sampled,
the prefill in one piece or in chunks, the cache carried over to the next call)."""

import mlx.core as mx
import numpy as np
import pytest
from mlx_lm.generate import generate_step
from mlx_lm.models.cache import make_prompt_cache
from mlx_lm.sample_utils import make_sampler

from moshi_mlx.assistant.llm import load_llm
from moshi_mlx.assistant.llm_tokens import tokens_on_demand
from tests.support.llm import llm_home  # noqa: F401


@pytest.fixture(scope="module")
def model(llm_home):
    return load_llm("demo-llm", llm_home).model


@pytest.mark.parametrize("temp,prefill_step", [(0.0, 2048), (0.8, 5)])
def test_same_tokens_as_mlx_lm(model, temp, prefill_step):
    prompt = mx.array(np.random.default_rng(0).integers(3, 200, 23), dtype=mx.int32)
    out = []
    for generate in ("mlx-lm", "ours"):
        mx.random.seed(7)
        cache, sampler, tokens = make_prompt_cache(model), make_sampler(temp=temp), []
        for turn in (prompt, prompt[:6]):  # a second call continues the same cache
            if generate == "mlx-lm":
                gen = generate_step(turn, model, max_tokens=12, sampler=sampler, prompt_cache=cache,
                                    prefill_step_size=prefill_step)
            else:
                gen = tokens_on_demand(model, turn, cache, sampler, 12, prefill_step)
            for token, logprobs in gen:
                tokens.append((token, np.array(logprobs)))
        out.append(tokens)
    assert [t for t, _ in out[0]] == [t for t, _ in out[1]]
    for (_, a), (_, b) in zip(*out):
        np.testing.assert_allclose(a, b, atol=1e-5)
