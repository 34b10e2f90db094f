"""Files of any length in constant memory (issue 20, item 11): the peak RSS of `encode`, `decode`
and `run` does not grow with the input's length or its sample rate and channel count. Each command
runs in a subprocess; its own peak RSS comes from wait4()."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.support.files import tone


# A small fresh Python starts the command and reports its peak RSS: measured from this (large)
# test process, the child's peak would include this process's memory, which a fork copies.
_MEASURE = """
import resource, subprocess, sys
r = subprocess.run([sys.executable, "-m", "moshi_mlx", *sys.argv[1:]], stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(r.returncode, peak / (1 << 20 if sys.platform == "darwin" else 1 << 10))
sys.stderr.write(r.stderr)
"""


def _peak_rss_mb(*args) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `python -m moshi_mlx ARGS`."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, args)], capture_output=True,
                       text=True, timeout=600)
    code, peak = r.stdout.split()
    assert code == "0", r.stderr
    return float(peak), time.monotonic() - t0


def _compare(label, short, long, tolerance=0.10):
    print(f"{label}: peak RSS {short[0]:.1f} MB ({short[1]:.1f} s) vs {long[0]:.1f} MB ({long[1]:.1f} s)")
    assert long[0] <= short[0] * (1 + tolerance), f"{label}: memory grew with the input"


@pytest.mark.slow
def test_encode_of_20_minutes_uses_the_memory_of_1_minute(tmp_path, demo_home):
    model = ("--model", "demo", "--cache-dir", demo_home)
    one, twenty = tone(tmp_path / "1min.wav", 60), tone(tmp_path / "20min.wav", 20 * 60)
    hires = tone(tmp_path / "hires.wav", 10, rate=384_000, channels=8)  # 61 MB of samples
    enc = [_peak_rss_mb("encode", f, tmp_path / f"{f.stem}.npy", *model) for f in (one, twenty, hires)]
    _compare("encode 1 min vs 20 min", enc[0], enc[1])
    _compare("encode 1 min at 24 kHz mono vs 10 s at 384 kHz, 8 channels", enc[0], enc[2])


@pytest.mark.slow
def test_decode_of_20_minutes_uses_the_memory_of_1_minute(tmp_path, demo_home):
    model = ("--model", "demo", "--cache-dir", demo_home)
    codes = np.random.default_rng(0).integers(0, 64, (8, 20 * 60 * 25 // 2), dtype=np.int32)
    np.save(tmp_path / "20min.npy", codes)
    np.save(tmp_path / "1min.npy", codes[:, :750])
    dec = [_peak_rss_mb("decode", tmp_path / f"{n}.npy", tmp_path / f"{n}.wav", *model)
           for n in ("1min", "20min")]
    _compare("decode 1 min vs 20 min", *dec)
    assert os.path.getsize(tmp_path / "20min.wav") > 20 * 60 * 24000 * 4


@pytest.mark.slow
def test_run_of_a_long_file_uses_the_memory_of_a_short_one(tmp_path, demo_home):
    """1 vs 3 minutes, so the test stays short (the LM step costs ~8 ms a frame here); before
    streaming, 1 and 5 minutes took 83 and 151 MB. 1 vs 20 minutes: see the README."""
    model = ("--model", "demo", "--cache-dir", demo_home, "--quiet")
    short, long = tone(tmp_path / "short.wav", 60), tone(tmp_path / "long.wav", 3 * 60)
    runs = [_peak_rss_mb("run", "--input", f, "--output", tmp_path / f"{f.stem}-out.wav", "--tokens",
                         tmp_path / f"{f.stem}.npy", "--transcript", tmp_path / f"{f.stem}.txt", *model)
            for f in (short, long)]
    _compare("run 1 min vs 3 min", *runs)
