"""ChatLLM: replies equal mlx_lm.generate on the chat rendered in full (greedy), turn after turn,
after a barge-in and a reply cut by max_tokens; each turn prefills only its new tokens; loading errors."""

import json
import shutil

import mlx_lm
import pytest
from mlx_lm.models.cache import KVCache
from mlx_lm.sample_utils import make_sampler

from moshi_mlx.assistant.llm import ChatLLM, LlmSettings, load_llm
from moshi_mlx.assistant.scripted import scripted_llm
from moshi_mlx.errors import CheckpointError, ConfigError, ModelNotAvailableError, MoshiError
from tests.support.llm import TOOLS, llm_home, run_reply  # noqa: F401


@pytest.fixture(scope="module")
def demo(llm_home):
    return load_llm("demo-llm", llm_home)


def _reference(llm, prompt, max_tokens):
    return mlx_lm.generate(llm.model, llm.tokenizer, prompt=prompt, max_tokens=max_tokens,
                           sampler=make_sampler(temp=0.0))


def test_replies_equal_mlx_lm_generate_on_the_full_chat(demo):
    chat = ChatLLM(demo, "You answer in one short sentence.", LlmSettings(greedy=True, max_tokens=16),
                   tools=TOOLS)
    turns = [("Hello! How are you today?", None), ("What would you like to talk about?", 2),
             ("Tell me about music and films.", None), ("Thank you, good night.", 0),
             ("Can you repeat that, please?", None)]
    texts = []
    for user, heard_words in turns:
        chat.begin_reply(user)
        full = chat.render()
        expected = _reference(demo, full, 16)
        pieces, last = [], None
        while not (last := chat.step()).done:
            pieces.append(last.text)
        reply_text = "".join(pieces)
        assert reply_text == expected, user
        assert last.finish_reason in ("stop", "length")
        if heard_words is None:
            reply = chat.end_reply()
            assert chat.messages[-1] == {"role": "assistant", "content": expected}
        else:  # barge-in: the history keeps the words heard
            heard = " ".join(expected.split()[:heard_words])
            reply = chat.end_reply(heard=heard, interrupted=True)
            assert reply.heard == heard
            if heard:
                assert chat.messages[-1] == {"role": "assistant", "content": heard, "interrupted": True}
            else:  # nothing heard: no assistant turn, the next user turn joins this one
                assert chat.messages[-1]["role"] == "user"
        assert reply.text == expected and reply.tokens == chat.tokens_generated > 0
        texts.append(expected)
        # what the cache holds is exactly the tokens we count
        assert all(c.offset == len(chat._cached) for c in chat._cache)
    assert len(set(texts)) >= 2 and all(len(t) > 5 for t in texts)  # real, varied output
    assert "Thank you, good night. Can you repeat that, please?" in [m["content"] for m in chat.prompt_messages()]
    assert not any("interrupted" in m for m in chat.prompt_messages())


def test_a_reply_cut_by_max_tokens_is_closed_in_the_history(demo):
    chat = ChatLLM(demo, None, LlmSettings(greedy=True, max_tokens=5))
    chat.begin_reply("Hello!")
    prompt = chat.render()
    pieces = []
    while not (last := chat.step()).done:
        pieces.append(last)
    assert last.finish_reason == "length" and chat.tokens_generated == 5
    reply = chat.end_reply()
    assert reply.finish_reason == "length"
    assert reply.text == "".join(p.text for p in pieces) == _reference(demo, prompt, 5)
    chat.begin_reply("And then?")
    text = demo.tokenizer.decode(chat.render())
    assert f"<|im_start|>assistant\n{reply.text}<|im_end|>\n<|im_start|>user\nAnd then?<|im_end|>" in text
    chat.end_reply()


def test_each_turn_prefills_only_its_new_tokens(llm_home):
    replies = ["Hello there, friend.", "It is five pm.", "Good night."]
    llm = scripted_llm(replies, cache_dir=llm_home)
    chat = ChatLLM(llm, "Be brief.", LlmSettings())
    encode = lambda t: llm.tokenizer.encode(t, add_special_tokens=False)  # noqa: E731
    previous = previous_reply = None
    for user, reply_text in zip(["Hi!", "What time is it?", "Thanks."], replies):
        chat.begin_reply(user)
        full = chat.render()
        fed_before = sum(llm.model.calls)
        while not chat.step().done:
            pass
        assert chat.end_reply().text == reply_text
        if previous is None:
            assert chat.last_prefill_tokens == len(full)
        else:  # cached: the previous prompt, its reply and the end-of-turn token; all kept
            cached = len(previous) + len(encode(previous_reply)) + 1
            assert full[:cached] == previous + encode(previous_reply) + [llm.tokenizer.eos_token_id]
            assert chat.last_prefill_tokens == len(full) - cached
            new_turn = f"\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
            assert chat.last_prefill_tokens == len(encode(new_turn))
        # the model saw the new prompt tokens and each generated token (end of turn included) once
        assert sum(llm.model.calls) - fed_before == chat.last_prefill_tokens + len(encode(reply_text)) + 1
        previous, previous_reply = full, reply_text


def test_barge_in_trims_the_cache_to_the_words_heard(llm_home):
    llm = scripted_llm(["One two three four five six seven.", "Yes."], cache_dir=llm_home)
    chat = ChatLLM(llm, None, LlmSettings())
    chat.begin_reply("Count.")
    for _ in range(4):
        chat.step()
    reply = chat.end_reply(heard=" One two", interrupted=True)
    assert reply.finish_reason == "interrupted" and reply.heard == "One two"
    assert reply.text.startswith("One") and len(reply.text) < len("One two three four five six seven.")
    chat.begin_reply("Go on?")
    full = chat.render()
    assert "One two<|im_end|>" in llm.tokenizer.decode(full)
    assert chat._cached == full[:len(chat._cached)]  # the cache holds a prefix of the new chat
    while not chat.step().done:
        pass
    assert chat.end_reply().text == "Yes."


def test_sampling_is_seeded(demo):
    def reply(seed):
        chat = ChatLLM(demo, None, LlmSettings(temperature=1.0, seed=seed, max_tokens=12))
        run_reply(chat, "Hello!")
        return chat.end_reply().text

    assert reply(1) == reply(1)
    assert len({reply(1), reply(2), reply(3)}) > 1


def test_settings_from_assistant_options():
    from moshi_mlx.assistant.options import AssistantOptions

    options = AssistantOptions(temperature=0.3, greedy=True, max_tokens=42, seed=7, thinking=True)
    assert LlmSettings.from_options(options) == LlmSettings(0.3, True, 42, 7, True)
    assert LlmSettings.from_options(AssistantOptions()) == LlmSettings()


def test_step_and_end_need_an_open_reply(demo):
    chat = ChatLLM(demo, None, LlmSettings(max_tokens=3))
    with pytest.raises(RuntimeError):
        chat.step()
    with pytest.raises(RuntimeError):
        chat.end_reply()
    chat.begin_reply("Hi")
    with pytest.raises(RuntimeError):
        chat.begin_reply("Again")
    assert chat.end_reply().finish_reason == "ended"  # closed before any step: nothing generated
    assert chat.messages[-1] == {"role": "assistant", "content": ""}


def test_history_continues_a_conversation(demo):
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    saved = [{"role": "system", "content": "An old prompt."}] + history
    chat = ChatLLM(demo, "Be brief.", LlmSettings(greedy=True, max_tokens=4), history=saved)
    assert chat.messages == [{"role": "system", "content": "Be brief."}] + history
    assert ChatLLM(demo, None, LlmSettings(), history=saved).messages == saved
    chat.begin_reply("Again")
    assert "Hello.<|im_end|>" in demo.tokenizer.decode(chat.render())
    chat.end_reply()


# ---- loading ----

def test_load_demo_llm(demo):
    assert demo.is_demo and "random" in demo.name
    assert demo.tokenizer.has_tool_calling


def test_load_a_folder_and_its_errors(llm_home, tmp_path, monkeypatch):
    src = load_llm("demo-llm", llm_home).path
    good = tmp_path / "good"
    shutil.copytree(src, good)
    assert not load_llm(str(good)).is_demo

    def broken(name, fix):
        folder = tmp_path / name
        shutil.copytree(src, folder)
        fix(folder)
        return str(folder)

    with pytest.raises(CheckpointError, match="no config.json"):
        load_llm(broken("noconfig", lambda f: (f / "config.json").unlink()))

    def set_type(f):
        config = json.loads((f / "config.json").read_text())
        config["model_type"] = "no-such-arch"
        (f / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="no-such-arch"):
        load_llm(broken("badtype", set_type))
    with pytest.raises(CheckpointError, match="no .safetensors"):
        load_llm(broken("noweights", lambda f: (f / "model.safetensors").unlink()))

    def no_template(f):
        config = json.loads((f / "tokenizer_config.json").read_text())
        del config["chat_template"]
        (f / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="no usable chat template"):
        load_llm(broken("notemplate", no_template))
    with pytest.raises(CheckpointError, match="a file, not a model folder"):
        load_llm(str(good / "config.json"))
    with pytest.raises(MoshiError, match="not a folder and not a Hugging Face repo id"):
        load_llm("no such thing")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = "--llm mlx-community/not-downloaded-model-4bit: not downloaded and the network is off"
    with pytest.raises(ModelNotAvailableError, match=offline):
        load_llm("mlx-community/not-downloaded-model-4bit", cache_dir=str(tmp_path / "hf"))


def test_load_scripted_by_spec(tmp_path, llm_home):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": ["Hi there."], "tool_format": "mistral"}))
    llm = load_llm(f"scripted:{script}", llm_home)
    assert llm.tokenizer.tool_call_start == "[TOOL_CALLS]"
    chat = ChatLLM(llm, None, LlmSettings())
    pieces, last = run_reply(chat, "Hello")
    assert "".join(p.text for p in pieces) == "Hi there." and last.finish_reason == "stop"
    with pytest.raises(ConfigError, match="replies"):
        script.write_text('{"replies": 3}')
        load_llm(f"scripted:{script}", llm_home)
    with pytest.raises(ConfigError, match="cannot read"):
        load_llm(f"scripted:{tmp_path / 'missing.json'}", llm_home)


def test_scripted_model_uses_mlx_lm_caches(llm_home):
    llm = scripted_llm(["A."], cache_dir=llm_home)
    chat = ChatLLM(llm, None, LlmSettings())
    run_reply(chat, "Hi")
    assert isinstance(chat._cache[0], KVCache)


def test_a_repo_id_is_downloaded_through_the_projects_hub(llm_home, tmp_path, monkeypatch):
    from tests.engine.fake_hub import FakeHub, point_hub_at

    folder = load_llm("demo-llm", llm_home).path
    files = {f.name: f.read_bytes() for f in folder.iterdir()}
    # recent conversions keep the chat template in chat_template.jinja; code files are never fetched
    config = json.loads(files["tokenizer_config.json"])
    files["chat_template.jinja"] = config.pop("chat_template").encode()
    files["tokenizer_config.json"] = json.dumps(config).encode()
    files["modeling_evil.py"] = b"raise SystemExit"
    with FakeHub({"mlx-community/tiny-chat-4bit": files}) as server:
        point_hub_at(monkeypatch, server)
        seen = []
        llm = load_llm("mlx-community/tiny-chat-4bit", str(tmp_path / "hf"),
                       progress=lambda done, total: seen.append((done, total)))
    assert llm.name == "mlx-community/tiny-chat-4bit" and not llm.is_demo
    assert seen[-1][0] == seen[-1][1] >= len(files["model.safetensors"])
    assert llm.tokenizer.has_tool_calling and (llm.path / "chat_template.jinja").is_file()
    assert not (llm.path / "modeling_evil.py").exists()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # now cached: loads with the network off
    assert load_llm("mlx-community/tiny-chat-4bit", str(tmp_path / "hf")).path == llm.path


def test_runs_on_the_mlx_worker_thread_and_reads_settings_each_reply(llm_home):
    from moshi_mlx.engine.mlx_worker import MlxWorker

    worker = MlxWorker("test-llm-worker")

    def job():
        llm = load_llm("demo-llm", llm_home)
        chat = ChatLLM(llm, None, LlmSettings(temperature=1.0, max_tokens=6))
        run_reply(chat, "Hi")
        chat.end_reply()
        chat.settings.greedy, chat.settings.max_tokens = True, 4  # from the next reply on
        chat.begin_reply("Again")
        prompt = chat.render()
        while not chat.step().done:
            pass
        return chat.end_reply(), _reference(llm, prompt, 4)

    reply, expected = worker.submit(job).result(timeout=120)
    assert reply.text == expected and reply.tokens == 4 and reply.prefill_s > 0
