"""Item 15: messages that say what is wrong, naming the file or option."""

from __future__ import annotations

import pytest

from .conftest import run_cli


@pytest.fixture
def files(inputs, tmp_path):
    (tmp_path / "tone3s.wav").write_bytes(inputs["wav"].read_bytes())
    (tmp_path / "folder").mkdir()
    (tmp_path / "trunc.wav").write_bytes(inputs["wav"].read_bytes()[:5000])
    return tmp_path


CASES = [
    (["encode", "{wav}", "{tmp}/c.npy", "--model", "{tmp}/tone3s.wav"], "a file that is not model weights"),
    (["encode", "{tmp}/missing.wav", "{tmp}/c.npy", "--model", "demo"], "missing.wav: no such audio file"),
    (["run", "--model", "demo", "--input", "{tmp}/folder", "--output", "{tmp}/o.wav"], "is a folder"),
    (["transcribe", "/dev/urandom", "--model", "demo-stt"], "not a regular file"),
    (["voices", "--model", "demo-personaplex", "--add", "X", "--from", "{tmp}/folder"], "--from"),
    (["voices", "--model", "demo-personaplex", "--add", "demo-mid", "--from", "{wav}"], "already has a voice"),
]


@pytest.mark.parametrize("argv,message", CASES, ids=[c[1] for c in CASES])
def test_clear_errors(argv, message, inputs, files):
    argv = [a.format(wav=inputs["wav"], tmp=files) for a in argv]
    r = run_cli(inputs, argv)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "System error" not in r.stderr


def test_models_download_demo_builds_it(inputs):
    r = run_cli(inputs, ["models", "--download", "demo"])
    assert r.returncode == 0 and "nothing to download" in r.stdout, r.stdout + r.stderr


def test_transcribe_warns_about_a_truncated_wav(inputs, files):
    r = run_cli(inputs, ["transcribe", files / "trunc.wav", "--model", "demo-stt", "--quiet"])
    assert r.returncode == 0 and "warning:" in r.stderr and "truncated" in r.stderr, r.stderr
