"""`python -m moshi_mlx run` over speech made by espeak-ng, with the demo model."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from moshi_mlx import audio_io
from tests.support.greedy import file_tokens


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: run scripts/install_system_deps.sh")
    path = tmp_path_factory.mktemp("speech") / "hello.wav"  # 22.05 kHz mono
    subprocess.run(["espeak-ng", "-w", str(path), "Hello Moshi. How are you today? Tell me a story."],
                   check=True)
    return path


def _run(tmp_path, demo_home, speech, *extra, tag="a"):
    out, txt, tok = tmp_path / f"{tag}.wav", tmp_path / f"{tag}.txt", tmp_path / f"{tag}.npy"
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "run", "--model", "demo", "--cache-dir",
                        str(demo_home), "--input", str(speech), "--output", str(out), "--transcript",
                        str(txt), "--tokens", str(tok), "--quiet", *extra],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "random weights" in r.stderr
    return out, txt, np.load(tok), r


def test_run_file_outputs(tmp_path, demo_home, speech):
    out, txt, tokens, r = _run(tmp_path, demo_home, speech, "--seed", "7")
    pcm = audio_io.read_audio(speech)
    frames = -(-len(pcm) // 1920)
    audio, rate = sf.read(out)
    assert rate == 24000 and audio.ndim == 1 and len(audio) == frames * 1920
    assert np.abs(audio[1920:]).max() > 0.01 and np.abs(audio[:1920]).max() == 0  # first: delay
    # one column per emitted frame: all but the first (the acoustic delay of 1 frame)
    assert tokens.dtype == np.int32 and tokens.shape == (9, frames - 1)
    assert (tokens[1:] >= 0).all() and (tokens[1:] < 64).all() and (tokens[0] < 96).all()
    assert "real-time factor" in r.stderr
    assert txt.read_text().strip() == r.stdout.strip()
    _, _, again, _ = _run(tmp_path, demo_home, speech, "--seed", "7", tag="b")
    assert np.array_equal(tokens, again), "--seed must make runs reproducible"
    _, _, other, _ = _run(tmp_path, demo_home, speech, "--seed", "8", tag="c")
    assert not np.array_equal(tokens, other)


def test_tokens_match_the_generator_directly(tmp_path, demo_home, speech):
    """--tokens holds, per emitted frame, LmGen.step's text token then its 8 audio codes."""
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model
    from moshi_mlx.lm import LmGen, make_sampler

    _, _, tokens, _ = _run(tmp_path, demo_home, speech, "--greedy", tag="g")
    model = load_model(resolve_model("demo", cache_dir=str(demo_home)))
    gen = LmGen(model.lm, make_sampler(0.0), make_sampler(0.0))
    assert np.array_equal(tokens, file_tokens(model, gen, speech))


def test_run_bad_input_names_the_file(tmp_path, demo_home):
    bad = tmp_path / "nope.wav"
    bad.write_bytes(b"garbage")
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "run", "--model", "demo", "--cache-dir",
                        str(demo_home), "--input", str(bad), "--output", str(tmp_path / "o.wav")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "nope.wav" in r.stderr and "Traceback" not in r.stderr


def test_bench_e2e_demo_json(demo_home):
    import json

    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "bench", "--model", "demo", "--cache-dir",
                        str(demo_home), "--frames", "8", "--warmup", "2", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["frames"] == 8
    for key in ("encode_ms", "lm_ms", "decode_ms", "total_ms"):
        assert out[key]["median"] > 0 and out[key]["p95"] >= out[key]["median"]
    assert abs(out["real_time_factor"] - out["total_ms"]["median"] / 80) < 1e-9
    assert "real time" in out["verdict"] and "demo" in out["verdict"]


def test_bench_verdict_sentences():
    from moshi_mlx.bench.e2e import verdict

    assert "CAN run" in verdict("m", 40, 60)
    assert "BARELY" in verdict("m", 75, 90)
    assert "CANNOT" in verdict("m", 120, 130)


def test_reset_gives_a_clean_conversation(demo_home, speech):
    """After reset() (what every new conversation gets) the same input and seed give the same
    tokens and audio: no state survives in the LM caches, the codec or the samplers."""
    from moshi_mlx.engine.core import FrameEngine, Sampling
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model

    core = FrameEngine(load_model(resolve_model("demo", cache_dir=str(demo_home))), Sampling(seed=5))
    pcm = audio_io.pad_to_frames(audio_io.read_audio(speech), 1920)[:1920 * 20]

    def once():
        outs = [core.step(pcm[i:i + 1920]) for i in range(0, len(pcm), 1920)]
        return ([o.text_token for o in outs], np.stack([o.pcm for o in outs]))

    tokens_a, audio_a = once()
    tokens_b, _ = once()  # continuing: different
    core.reset()
    tokens_c, audio_c = once()
    assert tokens_a == tokens_c and np.array_equal(audio_a, audio_c)
    assert tokens_a != tokens_b
