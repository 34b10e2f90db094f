"""Ring buffer, streaming detokenizer, recorder, demo model, self-test."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import sentencepiece as spm
import soundfile as sf

from moshi_mlx.engine.recorder import IncrementalWav, Recorder
from moshi_mlx.engine.ring import RingBuffer
from moshi_mlx.text import Detokenizer


def test_ring_buffer_wraps_and_counts_overflow():
    ring = RingBuffer(10)
    assert ring.write(np.arange(7, dtype=np.float32)) == 0
    out = np.zeros(5, np.float32)
    assert ring.read_into(out) == 5 and out.tolist() == [0, 1, 2, 3, 4]
    assert ring.write(np.arange(7, 15, dtype=np.float32)) == 0  # wraps around the end
    assert ring.write(np.arange(3, dtype=np.float32)) == 3  # full: nothing fits
    out = np.zeros(12, np.float32)
    assert ring.read_into(out) == 10
    assert out[:10].tolist() == [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    assert ring.available() == 0 and ring.read_into(out) == 0
    ring.write(np.ones(4, np.float32))
    assert ring.skip(3) == 3 and ring.available() == 1
    ring.clear()
    assert ring.available() == 0


@pytest.fixture(scope="module")
def tokenizer(demo_home):
    from moshi_mlx.demo import TOKENIZER_FILE, demo_model_dir

    return spm.SentencePieceProcessor(model_file=str(demo_model_dir(demo_home) / TOKENIZER_FILE))


def test_detokenizer_spaces_and_padding(tokenizer):
    detok = Detokenizer(tokenizer)
    ids = tokenizer.encode("hello how are you today")
    stream = []
    for t in ids:
        stream += [t, 3, 0, 3]  # Moshi pads its text stream with PAD (3) and EPAD (0)
    text = "".join(detok.push(t) for t in stream)
    assert text == " hello how are you today"
    assert detok.push(3) == "" and detok.push(0) == "" and detok.push(10_000) == ""


def test_detokenizer_byte_pieces():
    class Bytes:  # a tokenizer of byte pieces only, as sentencepiece's byte fallback gives
        pieces = ["<unk>", "<s>", "</s>", "<pad>"] + [f"<0x{b:02X}>" for b in range(256)] + ["\u2581ok"]

        def get_piece_size(self):
            return len(self.pieces)

        def is_control(self, t):
            return t in (1, 2, 3)

        def is_unknown(self, t):
            return t == 0

        def is_byte(self, t):
            return 4 <= t < 260

        def id_to_piece(self, t):
            return self.pieces[t]

    detok = Detokenizer(Bytes())
    out = [detok.push(4 + b) for b in "é".encode()] + [detok.push(260)]
    assert out == ["", "é", " ok"]


def test_incremental_wav_is_valid_after_every_write(tmp_path):
    wav = IncrementalWav(tmp_path / "a.wav", channels=2)
    for i in range(3):
        wav.write(np.full((1920, 2), 0.5, np.float32))
        data, rate = sf.read(tmp_path / "a.wav")  # readable while still open
        assert rate == 24000 and data.shape == ((i + 1) * 1920, 2)
    wav.close()
    assert abs(data[0, 0] - 0.5) < 1e-3


def test_recorder_transcript_lines(tmp_path):
    rec = Recorder(tmp_path / "rec")
    for i, word in enumerate([" hello", " there", "", " again"]):
        rec.write_frame(np.zeros(1920, np.float32), np.zeros(1920, np.float32))
        rec.write_text(word, i * 0.08 + (2.0 if word == " again" else 0.0))
    rec.close()
    lines = rec.paths["transcript"].read_text().splitlines()
    assert lines[1] == "[00:00:00.000] hello there"
    assert lines[2] == "[00:00:02.240] again"


def test_killed_recording_process_leaves_valid_files(virtual_audio_device, demo_home, tmp_path):
    """SIGKILL a live `chat --record` with the demo model: the WAV and transcript stay readable."""
    cmd = [sys.executable, "-m", "moshi_mlx", "chat", "--model", "demo", "--cache-dir", str(demo_home),
           "--record", str(tmp_path), "--no-aec", "--no-stats", "--seed", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        wav = None
        while time.monotonic() < deadline:
            found = list(tmp_path.glob("*.wav"))
            if found and found[0].stat().st_size > 44 + 3 * 24000 * 4:  # > 3 s of 2 x 16-bit
                wav = found[0]
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
        assert wav is not None, "no recording appeared"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    data, rate = sf.read(wav)
    assert rate == 24000 and data.shape[1] == 2 and len(data) >= 3 * 24000
    assert np.abs(data[:, 1]).max() > 0.01  # Moshi's channel has the demo's noise
    transcript = wav.with_suffix(".txt").read_text()
    assert transcript.startswith("# Moshi conversation") and "demo model" in transcript
    assert "[00:00:0" in transcript


def test_demo_model_folder(demo_home):
    from moshi_mlx.demo import demo_model_dir
    from moshi_mlx.hub import resolve_model

    folder = demo_model_dir(demo_home)
    assert demo_model_dir(demo_home) == folder  # created once
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".moshi-demo-")]
    config = json.loads((folder / "config.json").read_text())
    files = resolve_model("demo", cache_dir=str(demo_home))
    assert files.is_demo and "noise" in files.name
    sp = spm.SentencePieceProcessor(model_file=str(files.tokenizer_path))
    assert sp.get_piece_size() <= config["text_card"]
    assert sp.id_to_piece(3) == "<pad>" and sp.is_unknown(0)
    assert config["card"] == config["mimi_config"]["codebook_size"]
    assert files.mimi_path.name.startswith("tokenizer-")


def test_demo_is_reproducible(tmp_path):
    """Same seed, same files: two machines get the same demo model."""
    import hashlib

    from moshi_mlx.demo import LM_FILE, MIMI_FILE, demo_model_dir

    a, b = demo_model_dir(tmp_path / "a"), demo_model_dir(tmp_path / "b")
    for name in (LM_FILE, MIMI_FILE, "config.json"):
        assert hashlib.sha256((a / name).read_bytes()).digest() == \
            hashlib.sha256((b / name).read_bytes()).digest(), name


def test_selftest_passes_and_reports(demo_home, capsys):
    from moshi_mlx import selftest

    assert selftest.main(["--cache-dir", str(demo_home)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("self-test OK") and "random weights" in out and out.count("\n") == 1


def test_selftest_fails_cleanly_on_broken_demo(tmp_path, capsys):
    from moshi_mlx import selftest
    from moshi_mlx.demo import LM_FILE, demo_model_dir

    import mlx.core as mx

    folder = demo_model_dir(tmp_path)
    # a whole file of the wrong tensors (a truncated one is rebuilt: tests/reliability/test_home.py)
    mx.save_safetensors(str(folder / LM_FILE), {"not_a_weight": mx.zeros(1)})
    assert selftest.main(["--cache-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().out.startswith("self-test FAILED")


def test_chat_process_exits_cleanly_after_mlx_work_on_the_worker(demo_home, tmp_path):
    """mlx 0.32 (CPU) aborts the process at exit when a thread that ran MLX convolutions has ended;
    the engine's MLX work stays on one parked worker thread, so the process exits with 0."""
    code = ("import sys; sys.path.insert(0, '.');"
            "from moshi_mlx.engine import mlx_worker;"
            "from moshi_mlx.selftest import run;"
            f"print(mlx_worker.submit(lambda: run({str(demo_home)!r})).result())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "self-test OK" in r.stdout and "terminate called" not in r.stderr
