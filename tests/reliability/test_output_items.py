"""Issue #30 items 4, 5, 7 and 11 beyond the matrix: transcribe's outputs all checked before the model
loads and committed together, real SIGKILL leftovers, --record folders, and closed pipes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, run_cli


def test_models_into_a_closed_pipe_is_quiet(inputs):
    r = run_cli(inputs, ["models"], close_stdout=True)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr


def test_transcribe_to_a_closed_pipe_keeps_its_tokens(inputs, tmp_path):
    tokens = tmp_path / "t.npy"
    r = run_cli(inputs, ["transcribe", "--model", "demo-stt", inputs["wav"], "--tokens", tokens, "--quiet"],
                close_stdout=True)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert tokens.stat().st_size > 0


def test_transcribe_commits_all_outputs_together(inputs, tmp_path, read_only_folder):
    """A read-only --tokens is refused before the model loads, and the transcript is not written."""
    out = tmp_path / "t.txt"
    r = run_cli(inputs, ["transcribe", "--model", "demo-stt", inputs["wav"], "-o", out,
                         "--tokens", read_only_folder / "t.npy", "--quiet"])
    assert r.returncode == 2 and "read-only" in r.stderr and "--tokens" in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == [read_only_folder]


@pytest.mark.parametrize("command", ["say", "transcribe"])
def test_sigkill_leftovers_are_removed_by_the_next_run(command, inputs, tmp_path):
    text = tmp_path / "long.txt"
    text.write_text("One two three four five six seven eight nine ten.\n" * 200)
    out = tmp_path / "out.wav"
    argv = {"say": ["say", "--model", "demo-tts", "--file", text, "-o", out, "--quiet"],
            "transcribe": ["transcribe", "--model", "demo-stt", inputs["wav"], "-o", out,
                           "--format", "txt", "--quiet"]}[command]
    env = dict(os.environ, MOSHI_MLX_HOME=str(inputs["home"]), PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "moshi_mlx", *map(str, argv)], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not any(".moshi-partial-" in n for n in os.listdir(tmp_path)):
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    left = [f for f in tmp_path.iterdir() if ".moshi-partial-" in f.name]
    assert left, "the temporary output was not seen"
    for f in left:
        os.utime(f, (time.time() - 60, time.time() - 60))
    again = ["say", "--model", "demo-tts", "Hello.", "-o", out, "--quiet"] if command == "say" else argv
    r = run_cli(inputs, again)
    assert r.returncode == 0, r.stderr
    assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith(".")) == []


@pytest.mark.parametrize("command", [
    ["listen", "--model", "demo-stt"], ["chat", "--model", "demo"],
    ["translate", "--live", "--model", "demo-hibiki"]])
def test_record_folder_is_not_left_empty_when_the_device_is_missing(command, inputs, tmp_path):
    folder = tmp_path / "rec" / "today"
    r = run_cli(inputs, [*command, "--input-device", "no such microphone", "--record", folder,
                         "--duration", "1"], timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "rec").exists(), list(folder.parent.rglob("*"))


def test_user_voices_follow_the_umask(tmp_path):
    import numpy as np

    from moshi_mlx.personas.voices import Voice, save_voice

    old = os.umask(0o022)
    try:
        path = save_voice(Voice("Mine", np.zeros((17, 3), np.int32), None, "test"), tmp_path / "Mine.safetensors")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
