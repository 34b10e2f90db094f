"""`bench assistant` on the demo models: the JSON keys, parts that add up, a ratio near 1; the tool
turn: the filler first, then the answer after the tool's time."""

import json

from moshi_mlx.cli import main


def test_bench_assistant_json(home, capsys):
    assert main(["bench", "assistant", "--json", "--turns", "2", "--max-tokens", "16", "--tool-s", "0.9"]) == 0
    r = json.loads(capsys.readouterr().out)
    for key in ("e2e_ms", "parts_ms", "sum_of_parts_ms", "ratio", "llm_tokens_per_s", "underruns", "peak_memory_gb"):
        assert key in r
    assert set(r["parts_ms"]) == {"end_of_turn", "stt_flush", "llm_first_word", "tts_first_audio"}
    assert set(r["llm_tokens_per_s"]) == {"alone", "while_speaking"}
    assert all(v > 0 for v in r["parts_ms"].values())
    assert r["e2e_ms"] >= 0.9 * sum(r["parts_ms"].values())  # e2e is made of its parts
    assert 0.5 < r["ratio"] < 3.0
    assert len(r["ratio_per_turn"]) == 2 and r["ratio_per_turn_median"] > 0
    assert r["models"]["llm_text"] == "set"  # the demo LLM writes a set reply with its own compute
    assert r["llm_tokens_per_s"]["alone"] > 0 and r["peak_memory_gb"] > 0
    assert r["llm_waits"] >= 0 and r["underruns"] >= 0
    split = r["first_audio_split_ms"]  # the loop's time to the first audio, by who spent it
    assert set(split) == {"stt", "llm", "llm_tokens", "tts", "tts_steps", "other"}
    assert split["llm"] > 0 and split["tts"] > 0 and split["tts_steps"] >= 1 and split["llm_tokens"] >= 1
    assert r["later_words_alone_ms"] >= 0 and r["ratio_with_later_words"] <= r["ratio"]
    tool = r["tool_turn_ms"]
    assert set(tool) >= {"filler_first_audio", "answer_first_audio", "tool_s"}
    assert tool["tool_s"] >= 0.9
    assert tool["spoken"].startswith("Let me check.") and tool["spoken"].endswith("degrees.")
    assert 0 < tool["filler_first_audio"] < tool["answer_first_audio"]
    assert tool["answer_first_audio"] >= 900  # the answer waits for the tool


def test_dtype_needs_release_memory(home, capsys):
    assert main(["bench", "assistant", "--dtype", "bf16"]) != 0
    assert "--dtype applies to --release-memory only" in capsys.readouterr().err


def test_bench_assistant_no_tool_turn(home, capsys):
    assert main(["bench", "assistant", "--json", "--turns", "1", "--max-tokens", "4", "--tool-s", "0",
                 "--free-text"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["tool_turn_ms"] is None and r["models"]["llm_text"] == "free"
