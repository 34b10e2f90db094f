"""Fixtures of the command matrix: one MOSHI_MLX_HOME with every demo model, small inputs, and
file systems that are full or read-only (tmpfs, mounted as root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def inputs(tmp_path_factory):
    """`home`: MOSHI_MLX_HOME with demo, demo-stt, demo-tts, demo-hibiki, demo-vis; `wav`: 0.4 s of
    noise; `codes`: its Mimi codes; `text`: a line of text; `image`: a small PNG (MoshiVis)."""
    import soundfile as sf

    from moshi_mlx.demo import demo_model_dir

    base = tmp_path_factory.mktemp("matrix-inputs")
    home = base / "home"
    for kind in ("demo", "demo-stt", "demo-tts", "demo-hibiki", "demo-vis"):
        demo_model_dir(home, kind)
    wav = base / "in.wav"
    sf.write(wav, (np.random.default_rng(0).standard_normal(9600) * 0.1).astype(np.float32), 24000)
    text = base / "in.txt"
    text.write_text("Hello there. How are you?\n", encoding="utf-8")
    codes = base / "codes.npy"
    np.save(codes, np.random.default_rng(0).integers(0, 64, (8, 5)).astype(np.int32))
    from PIL import Image

    image = base / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)).save(image)
    return {"home": home, "wav": wav, "codes": codes, "text": text, "image": image}


def run_cli(inputs, argv, *, stdout=subprocess.PIPE, umask: int | None = None, timeout=120,
            close_stdout: bool = False, program=("-m", "moshi_mlx")):
    """Runs `python -m moshi_mlx ARGV` -> CompletedProcess (stdout, stderr as text). With
    `close_stdout` its stdout is a pipe whose reader has gone (`| head -c0`)."""
    env = dict(os.environ, MOSHI_MLX_HOME=str(inputs["home"]), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    cmd = [sys.executable, *program, *map(str, argv)]
    if close_stdout:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             preexec_fn=preexec, cwd=ROOT)
        p.stdout.close()
        err = p.stderr.read().decode(errors="replace")
        p.wait(timeout)
        return subprocess.CompletedProcess(cmd, p.returncode, "", err)
    return subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, text=True,
                          preexec_fn=preexec, timeout=timeout, cwd=ROOT)


class _Hung(Exception):
    pass


def _alarm(signum, frame):
    raise _Hung("the command ran past its time limit")


def run_cli_here(inputs, argv, *, timeout=120) -> subprocess.CompletedProcess:
    """`python -m moshi_mlx ARGV` run in this process (same home, offline, working folder; stdout and
    stderr captured) for probes that are about the command's checks, not about the process: no
    interpreter start and import per probe. An exception the command lets out is re-raised (a
    subprocess would print its traceback); SIGALRM ends a command that blocks past `timeout`
    (e.g. opening a FIFO)."""
    import contextlib
    import io
    import signal

    from moshi_mlx.cli import main

    env = {"MOSHI_MLX_HOME": str(inputs["home"]), "HF_HUB_OFFLINE": "1"}
    saved_env = {k: os.environ.get(k) for k in env}
    cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    os.environ.update(env)
    os.chdir(ROOT)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as e:  # argparse
                code = e.code if isinstance(e.code, int) else 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return subprocess.CompletedProcess(["moshi_mlx", *map(str, argv)], code, out.getvalue(), err.getvalue())


def _mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")


@pytest.fixture
def full_folder(tmp_path):
    """A folder on a 256 KiB tmpfs filled to the last byte (holding only `filler`)."""
    folder = tmp_path / "full"
    _mount_tmpfs(folder, "size=256k")
    try:
        fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        os.close(fd)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    _mount_tmpfs(folder, "ro,size=64k")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
