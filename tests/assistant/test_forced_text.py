"""bench assistant's set text: the chat model writes the reply it is given, turn after turn (the
prompt cache reused, the prefill in chunks of any size), with a forward pass of its own per call."""

import mlx.core as mx
from mlx_lm.models.cache import make_prompt_cache
from mlx_lm.sample_utils import make_sampler

from moshi_mlx.assistant.llm import ChatLLM, LlmSettings, load_llm
from moshi_mlx.assistant.llm_tokens import tokens_on_demand
from moshi_mlx.bench.forced_text import ForcedText, force_replies
from tests.support.llm import llm_home, run_reply  # noqa: F401

REPLIES = {"Hi!": "Hello there, how are you today?", "Fine.": "Good to hear. What shall we talk about?"}


class Counting:
    """The model, counting the tokens of each call it computes."""

    def __init__(self, model):
        self.model, self.calls = model, []
        self.layers = model.layers

    def __call__(self, inputs, cache=None, **kw):
        self.calls.append(inputs.shape[-1])
        return self.model(inputs, cache=cache, **kw)


def test_each_turn_writes_its_set_reply(llm_home):
    llm = load_llm("demo-llm", llm_home)
    counting = Counting(llm.model)
    llm.model = counting
    chat = ChatLLM(llm, "Be brief.", LlmSettings(greedy=True, max_tokens=40, seed=0))
    force_replies(chat, REPLIES.get)
    for user in ("Hi!", "Fine."):
        before = len(counting.calls)
        pieces, end = run_reply(chat, user)
        assert "".join(p.text for p in pieces) + end.text == REPLIES[user]
        chat.end_reply()
        tokens = len(llm.tokenizer.encode(REPLIES[user], add_special_tokens=False))
        # the prefill (one piece), the prompt's last token, then a call per token written (the end's too)
        assert counting.calls[before] > 1 and counting.calls[before + 1:] == [1] * (tokens + 2)
    assert "writing a set text" in chat.llm.name


def test_prefill_chunks_and_a_reused_cache(llm_home):
    llm = load_llm("demo-llm", llm_home)
    eos = min(llm.tokenizer.eos_token_ids)
    model = ForcedText(llm.model, eos)
    cache = make_prompt_cache(model)
    want = [11, 12, 13, 14]
    for prompt in (mx.arange(3, 20), mx.arange(40, 47)):  # the second continues the same cache
        model.expect(want, cache[0].offset + prompt.size)
        out = [t for t, _ in tokens_on_demand(model, prompt, cache, make_sampler(temp=0.0), 10, prefill_step=3)]
        assert out[:5] == want + [eos]
        assert cache[0].offset >= 17
