"""`run` never costs data and never ends in a traceback (issue 20, items 4 and 7): every output path
is checked before any work, outputs appear together at the end or not at all, bad audio is cleaned
and counted, an empty file is refused, a truncated one is warned about."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from tests.support.files import assert_clean_error, moshi, readonly_folder, tone


def _run(demo_home, inp, out, *extra):
    return moshi("run", "--model", "demo", "--cache-dir", demo_home, "--input", inp, "--output", out,
                 "--quiet", *extra)


@pytest.fixture
def clip(tmp_path):
    return tone(tmp_path / "in.wav", 1.0)


@pytest.mark.parametrize("case", ["missing_folder", "folder", "readonly", "same_file"])
def test_every_output_path_is_checked_before_any_work(tmp_path, demo_home, clip, case):
    out = tmp_path / "out.wav"
    out.write_bytes(b"an older answer")  # must survive every failure
    args = {"missing_folder": ("--transcript", tmp_path / "nope" / "t.txt"),
            "folder": ("--tokens", tmp_path),
            "readonly": ("--tokens", readonly_folder(tmp_path) / "t.npy"),
            "same_file": ("--transcript", out)}[case]
    words = {"missing_folder": ["--transcript", "does not exist"], "folder": ["--tokens", "is a folder"],
             "readonly": ["--tokens", "read-only"], "same_file": ["--output and --transcript"]}[case]
    r = _run(demo_home, clip, out, *args)
    assert_clean_error(r, *words)
    assert "random weights" not in r.stderr, "the model was loaded before the outputs were checked"
    assert out.read_bytes() == b"an older answer"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.wav", "out.wav"] + (["readonly"] if (tmp_path / "readonly").exists() else []))


def test_a_stopped_run_leaves_no_outputs(tmp_path, demo_home):
    long = tone(tmp_path / "long.wav", 60.0)
    out = tmp_path / "out.wav"
    out.write_bytes(b"an older answer")
    proc = subprocess.Popen([sys.executable, "-m", "moshi_mlx", "run", "--model", "demo", "--cache-dir",
                             str(demo_home), "--input", str(long), "--output", str(out), "--tokens",
                             str(tmp_path / "t.npy"), "--transcript", str(tmp_path / "t.txt"), "--quiet"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".out.wav.") and p.stat().st_size > 200_000
                  for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 130
    assert "Traceback" not in proc.stderr.read()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav", "out.wav"]
    assert out.read_bytes() == b"an older answer"


def test_bad_samples_are_cleaned_and_counted(tmp_path, demo_home):
    bad = {100: np.nan, 5000: np.inf, 9000: -np.inf, 20000: 1e30}
    dirty = tone(tmp_path / "dirty.wav", 2.0, subtype="FLOAT", bad=bad)
    clean = tone(tmp_path / "clean.wav", 2.0, subtype="FLOAT", bad={i: 0.0 for i in bad})
    r = _run(demo_home, dirty, tmp_path / "a.wav", "--tokens", tmp_path / "a.npy", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "4 samples were NaN, infinite or absurd" in r.stderr and "dirty.wav" in r.stderr
    r2 = _run(demo_home, clean, tmp_path / "b.wav", "--tokens", tmp_path / "b.npy", "--seed", "3")
    assert r2.returncode == 0 and "warning" not in r2.stderr
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    audio, _ = sf.read(tmp_path / "a.wav")
    assert np.isfinite(audio).all()


def test_empty_and_truncated_inputs(tmp_path, demo_home, clip):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.wav"
    sf.write(header_only, np.zeros(0, np.float32), 24000)
    for path in (empty, header_only):
        r = _run(demo_home, path, tmp_path / "o.wav")
        assert_clean_error(r, path.name)
        assert not (tmp_path / "o.wav").exists()
    assert "holds no audio" in r.stderr
    data = clip.read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(data[:len(data) // 2])
    r = _run(demo_home, truncated, tmp_path / "o.wav")
    assert r.returncode == 0, r.stderr
    assert "truncated.wav" in r.stderr and "truncated?" in r.stderr
    assert sf.info(tmp_path / "o.wav").frames == 7 * 1920  # 0.5 s: what was there
