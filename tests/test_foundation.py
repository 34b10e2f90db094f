"""The project's own plumbing: CLI dispatch, audio files, install layout, virtual audio device."""

import subprocess
import sys

import numpy as np
import pytest

from moshi_mlx import SAMPLE_RATE, audio_io, cli


def test_cli_help_lists_subcommands():
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for name in cli.SUBCOMMANDS:
        assert name in r.stdout


def test_cli_unknown_command_fails():
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "nope"], capture_output=True, text=True)
    assert r.returncode != 0


def test_read_audio_resamples_and_mixes_down(tmp_path):
    t = np.arange(48000) / 48000
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.5
    path = tmp_path / "in.wav"
    audio_io.write_wav(path, stereo.astype(np.float32), 48000)
    pcm = audio_io.read_audio(path)
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    assert abs(len(pcm) - SAMPLE_RATE) <= 1
    assert 0.45 < np.abs(pcm[1000:-1000]).max() < 0.55


def test_read_audio_bad_file_names_it(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(Exception, match="broken.wav"):
        audio_io.read_audio(bad)


def test_install_has_no_bare_app_or_quantize_package(tmp_path):
    """`pip install .` must map app/ and quantize/ to unique import names."""
    import importlib.util

    code = ("import runpy, setuptools; captured = {};"
            "setuptools.setup = lambda **kw: captured.update(kw);"
            "runpy.run_path('setup.py'); print(captured['packages'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_repo())
    packages = eval(out.stdout)
    tops = {p.split(".")[0] for p in packages}
    assert tops == {"moshi_mlx", "moshi_quantize", "moshi_app"}
    assert importlib.util.find_spec("moshi_app") is not None
    assert importlib.util.find_spec("moshi_quantize") is not None


def test_virtual_audio_loopback(virtual_audio_device):
    import sounddevice as sd

    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(SAMPLE_RATE * 3) / SAMPLE_RATE)).astype(np.float32)
    rec = sd.playrec(tone[:, None], samplerate=SAMPLE_RATE, channels=1, dtype="float32")
    sd.wait()
    rec = rec[:, 0]
    assert np.isfinite(rec).all()
    assert np.sqrt(np.mean(rec[-SAMPLE_RATE:] ** 2)) > 0.05  # the tone came back


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]
