"""`demo-llm`: a tiny random-weight mlx-lm chat model made locally (~0.7 MB).

Nothing is downloaded: a llama-type model (2 layers, width 64) with random weights, a real
byte-level BPE tokenizer trained here with `tokenizers` on a small English corpus, and a chat
template with tool calls. It writes random words (noise), never a sensible answer; it exists so that
the assistant's whole path (chat template, prompt cache, streaming, tools) runs in tests.

Two variants share the tokenizer and the weights, differing in their chat template:
"qwen" (`<|im_start|>` turns, `<tool_call>{json}</tool_call>`, mlx-lm's json_tools parser) and
"mistral" (`[INST]` turns, `[TOOL_CALLS]name[ARGS]{json}`, mlx-lm's mistral parser).
`model_type` is "llama" so that transformers 5 reads the tokenizer with its generic backend.
Folders are built once (fixed seed, same files every time), beside their final place then renamed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

VERSION = 1
SEED = 20250
DEMO_NOTE = "demo-llm: random weights, it writes random words, not answers"
VARIANTS = ("qwen", "mistral")
VOCAB_SIZE = 1024

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
                 "<tool_response>", "</tool_response>", "<think>", "</think>"]
MISTRAL_SPECIALS = ["<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[ARGS]", "[TOOL_RESULTS]",
                    "[/TOOL_RESULTS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[SYSTEM_PROMPT]",
                    "[/SYSTEM_PROMPT]"]
SPECIALS = QWEN_SPECIALS + MISTRAL_SPECIALS

_CORPUS = """\
Hello! How are you today? I am fine, thank you. What would you like to talk about?
The weather is nice this morning: sunny, about 21 degrees, with a light wind from the west.
Let us talk about music, films, books, science and history. I like reading in the evening.
This is a demo model with random weights; it only writes random words, not real answers.
Download a real model to have a conversation, for example a small instruct model.
One, two, three, four, five, six, seven, eight, nine, ten. It is 5 pm, or 17:30 in Paris.
Good morning, good evening, good night. Where do you live, and what do you do for a living?
Sure, I can help with that. Here is a short answer. Let me check the time for you.
The timer is set for ten minutes. Your reminder is saved. I could not open that page.
Can you repeat that, please? Sorry, I did not catch that. Would you like to know more?
Tools: get_time, set_timer, get_weather, search_web, open_url with arguments in JSON.
{"name": "get_time", "arguments": {"timezone": "Europe/Paris"}} {"city": "London", "minutes": 10}
https://example.com/page?q=1 50% off & free shipping, 3 * 4 = 12, user@example.org #tag
"""

QWEN_TEMPLATE = """\
{%- if messages and messages[0].role == 'system' %}{% set system = messages[0].content %}\
{% set rest = messages[1:] %}{% else %}{% set system = none %}{% set rest = messages %}{% endif %}
{%- if tools %}<|im_start|>system
{% if system %}{{ system }}

{% endif %}# Tools
You may call functions. Their signatures:
<tools>
{% for tool in tools %}{{ tool | tojson }}
{% endfor %}</tools>
To call one, write <tool_call>{"name": NAME, "arguments": {...}}</tool_call><|im_end|>
{% elif system %}<|im_start|>system
{{ system }}<|im_end|>
{% endif %}
{%- for message in rest %}
{%- if message.role == 'tool' %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% elif message.role == 'assistant' %}<|im_start|>assistant
{{ message.content or '' }}
{%- for call in message.tool_calls or [] %}{% set tool_call = call.function or call %}<tool_call>
{"name": "{{ tool_call.name }}", "arguments": {{ tool_call.arguments | tojson }}}
</tool_call>{% endfor %}<|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and enable_thinking %}<think>
{% endif %}{% endif %}"""

MISTRAL_TEMPLATE = """\
{{- bos_token }}
{%- if messages and messages[0].role == 'system' %}[SYSTEM_PROMPT]{{ messages[0].content }}[/SYSTEM_PROMPT]\
{% set rest = messages[1:] %}{% else %}{% set rest = messages %}{% endif %}
{%- if tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif %}
{%- for message in rest %}
{%- if message.role == 'user' %}[INST]{{ message.content }}[/INST]
{%- elif message.role == 'tool' %}[TOOL_RESULTS]{{ message.content }}[/TOOL_RESULTS]
{%- elif message.role == 'assistant' %}{{ message.content or '' }}
{%- if message.tool_calls %}[TOOL_CALLS]{% for call in message.tool_calls %}{% set f = call.function or call %}\
{{ f.name }}[ARGS]{{ f.arguments | tojson }}{% endfor %}{% endif %}{{ eos_token }}
{%- endif %}
{%- endfor %}"""


def _train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    lines = [line for line in _CORPUS.splitlines() if line] * 4
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def _printable(token: str) -> bool:
    """A byte-level BPE token made of printable ASCII (the byte-level alphabet maps space to Ġ)."""
    from tokenizers.pre_tokenizers import ByteLevel

    ascii_chars = {c for c in ByteLevel.alphabet() if c == "Ġ" or (c.isascii() and c.isprintable())}
    return all(c in ascii_chars for c in token)


def _tokenizer_config(variant: str) -> dict:
    if variant == "qwen":
        return {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": QWEN_TEMPLATE,
                "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "bos_token": None,
                "model_max_length": 4096, "clean_up_tokenization_spaces": False}
    return {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": MISTRAL_TEMPLATE,
            "eos_token": "</s>", "bos_token": "<s>", "pad_token": "</s>",
            "model_max_length": 4096, "clean_up_tokenization_spaces": False}


def _model_config(vocab: int, eos: list[int]) -> dict:
    return {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
            "num_hidden_layers": 2, "intermediate_size": 128, "num_attention_heads": 4,
            "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "vocab_size": vocab, "rope_theta": 10000.0,
            "max_position_embeddings": 4096, "tie_word_embeddings": False, "eos_token_id": eos,
            "torch_dtype": "float32", "demo": DEMO_NOTE}


def _build(folder: Path, variant: str) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama

    tok = _train_tokenizer()
    tok.save(str(folder / "tokenizer.json"))
    vocab = tok.get_vocab_size()
    eos_names = ["<|im_end|>", "<|endoftext|>"] if variant == "qwen" else ["</s>"]
    config = _model_config(vocab, [tok.token_to_id(n) for n in eos_names])
    mx.random.seed(SEED)
    model = llama.Model(llama.ModelArgs.from_dict(config))
    weights = dict(tree_flatten(model.parameters()))
    # shrink the output rows of special tokens and of non-ASCII bytes, so that the random model
    # writes printable words and never markup by itself (tool calls come from scripted models)
    quiet = [i for t, i in tok.get_vocab().items() if t in SPECIALS or not _printable(t)]
    weights["lm_head.weight"] = weights["lm_head.weight"].at[mx.array(quiet)].multiply(0.01)
    mx.save_safetensors(str(folder / "model.safetensors"), weights)
    (folder / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(variant), indent=2) + "\n")
    (folder / "README.txt").write_text(DEMO_NOTE + "\n")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")  # last: marks complete


def demo_llm_dir(cache_dir: str | os.PathLike | None = None, variant: str = "qwen") -> Path:
    """The demo LLM's folder (an mlx-lm model folder), built on first use in the demo home."""
    from ..paths import build_folder_once, default_home

    if variant not in VARIANTS:
        raise ValueError(f"demo-llm variant {variant!r}: expected one of {VARIANTS}")
    root = Path(cache_dir).expanduser() if cache_dir else default_home()
    final = root / f"moshi-demo-llm-{variant}-v{VERSION}"
    if (final / "config.json").is_file():
        return final
    return build_folder_once(final, lambda tmp: _build(tmp, variant), prefix=".moshi-demo-llm-")
