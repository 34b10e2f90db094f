"""demo-llm: tiny, deterministic, labelled as noise, loaded by mlx-lm with tool calling and thinking."""

import hashlib
import json
import time

import mlx_lm
from mlx_lm.sample_utils import make_sampler
from mlx_lm.tool_parsers import json_tools, mistral

from moshi_mlx.assistant.demo_llm import DEMO_NOTE, SPECIALS, demo_llm_dir
from moshi_mlx.assistant.llm import load_llm
from tests.support.llm import TOOLS, llm_home  # noqa: F401


def _digest(folder):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_same_seed_same_files_and_small(llm_home, tmp_path):
    again = demo_llm_dir(tmp_path, "qwen")
    first = demo_llm_dir(llm_home, "qwen")
    assert _digest(again) == _digest(first)
    assert sum(f.stat().st_size for f in first.iterdir()) < 1_000_000
    assert demo_llm_dir(llm_home, "qwen") == first  # built once, then reused
    assert DEMO_NOTE in (first / "README.txt").read_text()
    config = json.loads((first / "config.json").read_text())
    assert config["model_type"] == "llama" and "random" in config["demo"]


def test_mlx_lm_loads_it_with_tool_calling_and_thinking(llm_home):
    load_llm("demo-llm", llm_home)  # the first load in a process also imports transformers (~3 s)
    t0 = time.perf_counter()
    llm = load_llm("demo-llm", llm_home)
    assert time.perf_counter() - t0 < 1.0  # ~15 ms
    tok = llm.tokenizer
    assert type(tok._tokenizer).__name__ in ("TokenizersBackend", "PreTrainedTokenizerFast")
    assert tok.has_tool_calling and tok.tool_call_start == "<tool_call>" and tok.tool_call_end == "</tool_call>"
    assert tok.tool_parser is json_tools.parse_tool_call
    assert tok.tool_parser('\n{"name": "get_time", "arguments": {"tz": "UTC"}}\n') == {
        "name": "get_time", "arguments": {"tz": "UTC"}}
    assert tok.has_thinking and tok.think_start == "<think>"
    assert tok.eos_token_ids == {tok.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
    # the tokenizer is real: text round-trips, special tokens are single tokens
    text = "Hello! How are you today? It is 21 degrees."
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    assert all(len(tok.encode(s, add_special_tokens=False)) == 1 for s in SPECIALS)

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    with_tools = tok.apply_chat_template(messages, tools=TOOLS, add_generation_prompt=True, tokenize=False,
                                         enable_thinking=False)
    assert with_tools.startswith("<|im_start|>system\nBe brief.\n\n# Tools") and '"name": "get_time"' in with_tools
    assert with_tools.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    thinking = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, enable_thinking=True)
    assert thinking.endswith("<|im_start|>assistant\n<think>\n")


def test_the_mistral_variant_picks_mlx_lms_mistral_parser(llm_home):
    llm = load_llm("demo-llm-mistral", llm_home)
    tok = llm.tokenizer
    assert tok.tool_parser is mistral.parse_tool_call and tok.tool_call_start == "[TOOL_CALLS]"
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tools=TOOLS, add_generation_prompt=True,
                                   tokenize=False)
    assert text.startswith("<s>[AVAILABLE_TOOLS]") and text.endswith("[INST]Hi[/INST]")


def test_the_random_model_writes_words_not_markup(llm_home):
    llm = load_llm("demo-llm", llm_home)
    prompt = llm.tokenizer.apply_chat_template([{"role": "user", "content": "Hello!"}], add_generation_prompt=True,
                                               enable_thinking=False)
    text = mlx_lm.generate(llm.model, llm.tokenizer, prompt=prompt, max_tokens=40, sampler=make_sampler(temp=0.0))
    assert len(text) > 20 and text.isascii() and text.isprintable()
    assert not any(s in text for s in SPECIALS)
