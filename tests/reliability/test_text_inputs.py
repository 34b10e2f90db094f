"""Items 12 and 16 (and the emoji role of 15): text is read in bounded pieces, binary data is "not
UTF-8 text", and endless inputs end in a message, not a MemoryError."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from moshi_mlx.tts.text_source import TextError, text_pieces

from .conftest import ROOT, run_cli


def test_a_long_line_comes_in_bounded_pieces_cut_at_spaces():
    line = ("word " * 100_000).encode()  # 500 KB, no newline
    pieces = list(text_pieces(io.BytesIO(line), "x", limit=4096))
    assert "".join(pieces) == line.decode()
    assert max(len(p) for p in pieces) <= 4096 + 5
    assert all(p.endswith(" ") for p in pieces[:-1])


def test_multibyte_characters_split_across_pieces_survive():
    text = "é" * 10_000
    assert "".join(text_pieces(io.BytesIO(text.encode()), "x", limit=1001)) == text


@pytest.mark.parametrize("data,what", [(b"hello \xff\xfe world", "invalid start byte"),
                                       (b"\0" * 10, "NUL byte")])
def test_binary_data_is_not_utf8_text(data, what):
    with pytest.raises(TextError, match=f"not UTF-8 text.*{what}"):
        list(text_pieces(io.BytesIO(data), "x"))


def test_say_binary_stdin_is_one_line(inputs, tmp_path):
    out = tmp_path / "x.wav"
    env = dict(os.environ, MOSHI_MLX_HOME=str(inputs["home"]), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "say", "-", "--model", "demo-tts", "-o",
                        str(out), "--quiet"], input=os.urandom(20000), capture_output=True, env=env,
                       cwd=ROOT, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == 2 and "not UTF-8 text" in err and "Traceback" not in err, err
    assert not out.exists()


def test_say_file_dev_zero_is_refused(inputs):
    r = run_cli(inputs, ["say", "--file", "/dev/zero", "--model", "demo-tts", "-o", "/tmp/never.wav"])
    assert r.returncode == 2 and "not UTF-8 text" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("role,message", [("@/dev/zero", "not UTF-8 text"), ("🙂🙂", "no words")])
def test_run_role_is_checked(role, message, inputs, tmp_path):
    r = run_cli(inputs, ["run", "--model", "demo-personaplex", "--input", inputs["wav"], "--output",
                         tmp_path / "o.wav", "--role", role, "--quiet"])
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_huge_role_file_is_refused(inputs, tmp_path):
    role = tmp_path / "role.txt"
    role.write_text("You are kind. " * 10_000)
    r = run_cli(inputs, ["run", "--model", "demo-personaplex", "--input", inputs["wav"], "--output",
                         tmp_path / "o.wav", "--role", f"@{role}", "--quiet"])
    assert r.returncode == 2 and "longer than 16 KB" in r.stderr, r.stderr


def test_say_feeder_memory_is_bounded_by_the_queue(tmp_path):
    """A 5 MB file without a newline: the feeder pushes bounded pieces and stops reading while the
    synthesizer's queue is full (item 16)."""
    import threading
    import time

    from moshi_mlx.tts.text_source import Feeder, TextSource

    path = tmp_path / "one-line.txt"
    path.write_bytes(b"word " * 1_000_000)

    class Synth:
        queued_words, pushed, largest = 0, 0, 0

        def push_text(self, text, speaker=None):
            self.pushed += len(text)
            self.largest = max(self.largest, len(text))
            self.queued_words += len(text.split())

        def flush(self): ...

        def end_of_text(self): ...

        def cancel(self): ...

    synth, stop = Synth(), threading.Event()
    feeder = Feeder(TextSource(path=path), synth, False, stop)
    feeder.start()
    time.sleep(1.0)
    stop.set()
    feeder.thread.join(5)
    assert synth.largest <= 1 << 16 and synth.pushed <= 2 << 16, (synth.largest, synth.pushed)
