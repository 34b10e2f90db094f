"""`python -m moshi_mlx transcribe` with the demo STT model: outputs, several files, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf


def transcribe(home, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "moshi_mlx", "transcribe", "--model", "demo-stt",
                           "--cache-dir", str(home), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_json_and_tokens(tmp_path, demo_stt_home, speech_file, speech):
    """JSON words within the audio, end-of-turn detection recorded; --tokens holds one token per
    frame of the padded stream, equal to the Transcriber's own (greedy: deterministic)."""
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model
    from moshi_mlx.stt.files import check_input, transcribe_file
    from moshi_mlx.stt.transcriber import Transcriber

    out, tok = tmp_path / "hello.json", tmp_path / "hello.npy"
    r = transcribe(demo_stt_home, speech_file, "-o", out, "--tokens", tok)
    assert r.returncode == 0, r.stderr
    assert "random weights" in r.stderr and "x real time" in r.stderr and r.stdout == ""
    data = json.loads(out.read_text())
    duration = len(speech) / 24000
    assert data["file"] == str(speech_file) and data["end_of_turn_detection"] is True
    assert data["duration"] == pytest.approx(duration, abs=1e-3)
    assert data["words"], "the demo writes random words"
    for w in data["words"]:
        assert 0 <= w["start"] <= w["end"] <= data["duration"] and w["word"]
    tokens = np.load(tok)
    assert tokens.dtype == np.int32 and tokens.shape == ((len(speech) + int(1.5 * 24000)) // 1920,)
    tr = Transcriber(load_model(resolve_model("demo-stt", cache_dir=str(demo_stt_home))), keep_tokens=True)
    transcribe_file(tr, check_input(speech_file), lambda e: None)
    np.testing.assert_array_equal(tokens, tr.tokens())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files left"


def test_several_files_any_format(tmp_path, demo_stt_home, speech_file, speech):
    """Several inputs (WAV 22.05 kHz mono, FLAC 48 kHz stereo) into a folder, one subtitle file each;
    the same inputs to stdout as text, each under its name."""
    import soxr

    stereo = tmp_path / "stereo.flac"
    sf.write(stereo, np.stack([soxr.resample(speech, 24000, 48000)] * 2, axis=1), 48000)
    outdir = tmp_path / "out"
    outdir.mkdir()
    r = transcribe(demo_stt_home, speech_file, stereo, "-o", outdir, "--format", "srt", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in outdir.iterdir()) == ["hello.srt", "stereo.srt"]
    for p in outdir.iterdir():
        assert p.read_text().startswith("1\n00:00:0"), p
    r = transcribe(demo_stt_home, speech_file, stereo, "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"==> {speech_file} <==\n") and f"==> {stereo} <==\n" in r.stdout


@pytest.mark.parametrize("case", ["empty", "garbage", "missing", "moshi model", "missing model", "exists",
                                  "several to file", "same name", "input as output"])
def test_bad_input(tmp_path, demo_stt_home, speech_file, case):
    """A clear message naming the file or model, exit code 2, no output written, no traceback."""
    out = tmp_path / "out.txt"
    args, named = [speech_file, "-o", out], str(speech_file)
    if case == "empty":
        empty = tmp_path / "empty.wav"
        sf.write(empty, np.zeros(0, np.float32), 24000)
        args, named = [empty, "-o", out], "no audio in this file"
    elif case == "garbage":
        bad = tmp_path / "garbage.wav"
        bad.write_bytes(b"RIFF but not really")
        args, named = [speech_file, bad, "-o", tmp_path], "garbage.wav"
    elif case == "missing":
        args, named = [tmp_path / "nope.mp3", "-o", out], "nope.mp3: no such audio file"
    elif case == "moshi model":
        r = subprocess.run([sys.executable, "-m", "moshi_mlx", "transcribe", "--model", "demo", "--cache-dir",
                            str(tmp_path / "home"), speech_file, "-o", out], capture_output=True, text=True,
                           timeout=120)  # refused before the demo is even built
        assert r.returncode == 2 and "demo is a speech-to-speech conversation model" in r.stderr
        assert "`transcribe` needs a speech to text model" in r.stderr and "`python -m moshi_mlx chat`" in r.stderr
        assert not out.exists() and "Traceback" not in r.stderr and not (tmp_path / "home").exists()
        return
    elif case == "missing model":  # nothing known of it: said missing, not taken for a Moshi model
        args, named = ["--model", tmp_path / "no-model", speech_file, "-o", out], "no-model': not a folder"
    elif case == "exists":
        out.write_text("precious")
        named = "out.txt exists; use --force"
    elif case == "several to file":
        args, named = [speech_file, speech_file, "-o", out], "give an existing folder"
    elif case == "same name":
        (tmp_path / "sub").mkdir()
        other = tmp_path / "sub" / speech_file.name
        other.write_bytes(speech_file.read_bytes())
        args, named = [speech_file, other, "-o", tmp_path], "would both write"
    elif case == "input as output":
        args, named = [speech_file, "-o", speech_file, "--format", "txt"], "is one of the inputs"
    before = sorted(p.name for p in tmp_path.iterdir())
    r = transcribe(demo_stt_home, *args)
    assert r.returncode == 2, r.stderr
    assert named in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "something was written"
    if case == "exists":
        assert out.read_text() == "precious"
        r = transcribe(demo_stt_home, speech_file, "-o", out, "--force", "--quiet")
        assert r.returncode == 0 and out.read_text() != "precious"


@pytest.mark.parametrize("command", ["chat", "run"])
def test_conversation_commands_refuse_stt(tmp_path, demo_stt_home, speech_file, command):
    extra = ["--input", speech_file, "--output", tmp_path / "o.wav"] if command == "run" else []
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", command, "--model", "demo-stt", "--cache-dir",
                        str(demo_stt_home), *map(str, extra)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"demo-stt is a speech to text model (model_type 'stt'); `{command}` needs" in r.stderr
    assert "`python -m moshi_mlx transcribe` or `python -m moshi_mlx listen`" in r.stderr
    assert not (tmp_path / "o.wav").exists()


def test_interrupt_leaves_nothing(tmp_path, demo_stt_home):
    """Ctrl+C while the transcript is being written: exit 130, no output, no temporary file."""
    long = tmp_path / "long.wav"
    rng = np.random.default_rng(0)
    sf.write(long, (0.1 * rng.standard_normal(24000 * 120)).astype(np.float32), 24000)
    out = tmp_path / "out" / "long.json"
    out.parent.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "moshi_mlx", "transcribe", "--model", "demo-stt",
                             "--cache-dir", str(demo_stt_home), str(long), "-o", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.parent.iterdir()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert [p.name.startswith(".long.json.") for p in out.parent.iterdir()] == [True], "never started"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert list(out.parent.iterdir()) == [] and "Traceback" not in err
