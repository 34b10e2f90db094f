"""`python -m moshi_mlx assistant`: typed turns with --jsonl (demo-llm, demo-tts, or a scripted LLM
for exact text), a spoken turn from a file into a reply WAV, option errors in one line."""

import io
import json

import numpy as np
import pytest
import soundfile as sf

from moshi_mlx.cli import main


def run(argv, monkeypatch, capsys, stdin="", tools="none"):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["assistant", *argv, "--tools", tools])
    out, err = capsys.readouterr()
    return code, out, err


def script(tmp_path, replies):
    path = tmp_path / "script.json"
    path.write_text(json.dumps(replies))
    return f"scripted:{path}"


def test_text_jsonl_with_demo_llm_and_demo_tts(home, tmp_path, monkeypatch, capsys):
    code, out, err = run(["--text", "--jsonl", "--llm", "demo-llm", "--tts", "demo-tts", "--max-tokens", "12",
                          "--seed", "1", "-o", str(tmp_path / "r.wav")], monkeypatch, capsys, "Hello\n\nHow are you?\n")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["user"] for x in lines] == ["Hello", "How are you?"]
    for x in lines:
        assert set(x) == {"user", "assistant", "spoken", "interrupted", "latency_ms"}
        assert x["interrupted"] is False
        assert "llm_first_word" in x["latency_ms"] or not x["spoken"]
    assert sf.info(tmp_path / "r.wav").samplerate == 24000


def test_text_jsonl_exact_with_a_scripted_llm_and_no_speech(home, tmp_path, monkeypatch, capsys):
    spec = script(tmp_path, ["Hello **there**.", "Bye `now`."])
    code, out, err = run(["--text", "--jsonl", "--no-speak", "--llm", spec], monkeypatch, capsys, "hi\nbye\n")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(x["user"], x["assistant"], x["spoken"]) for x in lines] == [
        ("hi", "Hello **there**.", "Hello there."), ("bye", "Bye `now`.", "Bye now.")]
    assert set(lines[0]["latency_ms"]) == {"llm_first_word", "e2e"}


def test_text_prints_the_replies(home, tmp_path, monkeypatch, capsys):
    spec = script(tmp_path, ["Fine, thanks."])
    code, out, err = run(["--text", "--no-speak", "--llm", spec, "--record", str(tmp_path / "rec")],
                         monkeypatch, capsys, "how are you\n")
    assert code == 0, err
    assert out.strip() == "assistant: Fine, thanks."
    assert "latency ms" in err and "recorded:" in err
    (txt,) = (tmp_path / "rec").glob("assistant-*.txt")
    assert "User: how are you" in txt.read_text() and "Assistant: Fine, thanks." in txt.read_text()


def test_spoken_turn_from_a_file_into_a_wav(home, tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(1)
    sf.write(tmp_path / "q.wav", (0.1 * rng.standard_normal(24000)).astype(np.float32), 24000)
    spec = script(tmp_path, ["I heard something."])
    code, out, err = run(["--input", str(tmp_path / "q.wav"), "-o", str(tmp_path / "r.wav"), "--stt", "demo-stt",
                          "--tts", "demo-tts", "--llm", spec, "--jsonl"], monkeypatch, capsys)
    assert code == 0, err
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["assistant"] == "I heard something." and line["user"]
    assert {"end_of_turn", "stt_flush", "llm_first_word", "tts_first_audio", "e2e"} <= set(line["latency_ms"])
    assert sf.info(tmp_path / "r.wav").frames > 0


@pytest.mark.parametrize("argv, message", [
    (["--text", "--input", "x.wav"], "--text and --input"),
    (["--input", "missing.wav"], "no such file"),
    (["--text", "--no-speak", "-o", "r.wav"], "--no-speak and -o"),
    (["--text", "--system", "@missing.txt"], "cannot read it"),
])
def test_option_errors_are_one_line(argv, message, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv, monkeypatch, capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_bad_llm_is_one_clear_error(home, tmp_path, monkeypatch, capsys):
    code, out, err = run(["--text", "--no-speak", "--llm", str(tmp_path)], monkeypatch, capsys, "hi\n")
    assert code == 2 and "not an mlx-lm model folder" in err


@pytest.mark.parametrize("option", ["--stt", "--tts"])
def test_a_missing_stt_or_tts_folder_is_named_by_its_option(option, home, tmp_path, monkeypatch, capsys):
    """A folder that does not exist is said to be missing under the option that named it, not taken
    for a model of another kind (nothing is known of it before it resolves)."""
    sf.write(tmp_path / "q.wav", np.zeros(2400, np.float32), 24000)
    models = {"--stt": "demo-stt", "--tts": "demo-tts"} | {option: str(tmp_path / "no-such-model")}
    code, out, err = run(["--input", str(tmp_path / "q.wav"), "-o", str(tmp_path / "r.wav"), "--llm", "demo-llm",
                          *[a for pair in models.items() for a in pair]], monkeypatch, capsys)
    assert code == 2 and f"{option} '{tmp_path / 'no-such-model'}': not a folder" in err, err
    assert "model_type" not in err and not (tmp_path / "r.wav").exists()


def test_text_with_a_real_tool(home, tmp_path, monkeypatch, capsys):
    call = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*7"}}\n</tool_call>'
    spec = script(tmp_path, ["One moment. " + call, "Forty-two."])
    code, out, err = run(["--text", "--jsonl", "--no-speak", "--llm", spec], monkeypatch, capsys, "6 times 7?\n",
                         tools="calculator")
    assert code == 0, err
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["assistant"] == "One moment. Forty-two."
