"""`python -m moshi_mlx translate` on files: outputs, reproducibility, the cap, bad input."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile as sf

from .models import EOS


def _translate(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "moshi_mlx", "translate", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory):
    """1.1 s of a 16 kHz stereo signal: resampled and mixed down, not a whole number of frames."""
    path = tmp_path_factory.mktemp("input") / "source.wav"
    t = np.arange(int(1.1 * 16000)) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 2 * t)
    sf.write(path, np.stack([tone, 0.5 * tone], axis=1), 16000)
    return path


def test_translate_writes_speech_transcript_and_tokens(hibiki_models, speech_file, tmp_path):
    folder, _, _ = hibiki_models("hibiki")
    out, txt, tok = tmp_path / "en.wav", tmp_path / "en.txt", tmp_path / "en.npy"
    r = _translate(speech_file, "--model", folder, "-o", out, "--transcript", txt, "--tokens", tok,
                   "--greedy", "--cfg-coef", "3")
    assert r.returncode == 0, r.stderr
    frames_in = -(-int(1.1 * 24000) // 1920)  # the last partial frame is padded
    tokens = np.load(tok)
    # EOS at the end-of-input step: out 2 frames later; the first input frame is given twice
    assert tokens.dtype == np.int32 and tokens.shape == (9, frames_in + 2)
    assert tokens[0, -1] == EOS and (tokens[0, :-1] != EOS).all()
    audio, rate = sf.read(out)
    assert rate == 24000 and audio.ndim == 1 and len(audio) == tokens.shape[1] * 1920
    transcript = txt.read_text()
    assert transcript.startswith("[00:00:") and transcript.endswith("\n")
    assert " ".join(transcript.split()[1:]).replace(" ", "") == r.stdout.strip().replace(" ", "")
    assert "translated into" in r.stderr and "warning" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["en.npy", "en.txt", "en.wav"]
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == (0o666 & ~umask), "outputs get the usual permissions"


def test_demo_model_is_reproducible_and_capped(hibiki_home, speech_file, tmp_path):
    runs = []
    for tag in ("a", "b"):
        tok = tmp_path / f"{tag}.npy"
        r = _translate(speech_file, "--model", "demo-hibiki", "--cache-dir", hibiki_home, "-o",
                       tmp_path / f"{tag}.wav", "--tokens", tok, "--seed", "3", "--max-tail", "0.4")
        assert r.returncode == 0, r.stderr
        assert "random weights" in r.stderr and "did not end its translation (no EOS)" in r.stderr
        runs.append(np.load(tok))
    assert np.array_equal(*runs), "--seed must make runs reproducible"
    frames_in = -(-int(1.1 * 24000) // 1920)
    assert runs[0].shape[1] == 1 + frames_in + 1 + 5 - 2  # 0.4 s of tail = 5 frames after the end


def test_bad_input_file_is_named_and_nothing_is_written(hibiki_home, tmp_path):
    bad = tmp_path / "nope.wav"
    bad.write_bytes(b"not audio")
    keep = tmp_path / "out.wav"
    keep.write_bytes(b"keep me")
    r = _translate(bad, "--model", "demo-hibiki", "--cache-dir", hibiki_home, "-o", keep,
                   "--transcript", tmp_path / "t.txt")
    assert r.returncode == 2 and "nope.wav" in r.stderr and "Traceback" not in r.stderr
    assert keep.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nope.wav", "out.wav"]


@pytest.mark.parametrize("case", ["no_folder", "output_is_input", "output_is_folder", "no_output",
                                  "live_with_file"])
def test_bad_outputs_are_refused_before_any_work(speech_file, tmp_path, case):
    args = {"no_folder": [speech_file, "-o", tmp_path / "missing" / "o.wav"],
            "output_is_input": [speech_file, "-o", speech_file],
            "output_is_folder": [speech_file, "-o", tmp_path],
            "no_output": [speech_file],
            "live_with_file": [speech_file, "--live"]}[case]
    r = _translate(*args, "--model", tmp_path / "no-such-model", timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no-such-model" not in r.stderr, "the outputs are checked before the model is looked at"
    expected = {"no_folder": "missing", "output_is_input": "overwrite the input",
                "output_is_folder": "is a folder", "no_output": "-o OUTPUT.wav",
                "live_with_file": "--live"}[case]
    assert expected in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_conversation_model_is_refused_with_what_to_use(tmp_path, speech_file, demo_models):
    demo_models.home(tmp_path / "home", "demo")  # the Moshi demo: kind "moshi"
    r = _translate(speech_file, "--model", "demo", "--cache-dir", tmp_path / "home", "-o", tmp_path / "o.wav")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "speech-to-speech conversation model" in r.stderr and "python -m moshi_mlx chat" in r.stderr
    assert not (tmp_path / "o.wav").exists()


def test_guidance_on_zero_is_refused_before_loading(hibiki_models, speech_file, tmp_path):
    folder, _, _ = hibiki_models("zero")
    r = _translate(speech_file, "--model", folder, "-o", tmp_path / "o.wav", "--cfg-coef", "3")
    assert r.returncode == 2 and "classifier-free guidance" in r.stderr and str(folder) in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_cancel_leaves_nothing_behind(hibiki_models, speech_file, tmp_path):
    """What an app mode (or Ctrl+C) does mid-run: no output, no temporary file."""
    from moshi_mlx.engine.core import Sampling
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hibiki.files import open_input, translate_to_files
    from moshi_mlx.hibiki.outputs import OutputSet
    from moshi_mlx.hibiki.translator import TranslationCancelled
    from moshi_mlx.hub import folder_files

    folder, _, _ = hibiki_models("hibiki")
    model = load_model(folder_files(folder))
    cancel = threading.Event()
    seen = []

    def progress(phase, done, total):
        seen.append((phase, done, total))
        if done == 5:
            cancel.set()

    outputs = OutputSet({"audio": tmp_path / "o.wav", "transcript": tmp_path / "o.txt"}, [speech_file])
    with pytest.raises(TranslationCancelled):
        translate_to_files(model, open_input(speech_file), outputs, sampling=Sampling.greedy(),
                           progress=progress, cancel=cancel)
    assert list(tmp_path.iterdir()) == []
    assert seen[0] == ("input", 0, 14) and seen[-1] == ("input", 5, 14)
    texts = []
    outputs = OutputSet({"audio": tmp_path / "o.wav"})
    result = translate_to_files(model, open_input(speech_file), outputs, sampling=Sampling.greedy(),
                                on_text=lambda s, t: texts.append((s, t)))
    assert result.eos and texts == result.words and [p.name for p in tmp_path.iterdir()] == ["o.wav"]


def test_empty_input_is_an_error(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 24000)
    r = _translate(empty, "--model", tmp_path / "no-such-model", "-o", tmp_path / "o.wav", timeout=60)
    assert r.returncode == 2 and "empty.wav" in r.stderr and "no audio" in r.stderr
    assert "no-such-model" not in r.stderr
