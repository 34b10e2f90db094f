"""`python -m moshi_mlx say` on the demo-tts model: WAV and tokens as the Python API makes them,
standard input spoken line by line as it arrives, playback on the virtual device, voices listed,
and bad input refused with a message, exit code 2 and no file left behind."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

from tests.support.fake_hub import FakeHub

TEXT = "Hello world, this is the demo. It only makes noise!"


def _env(home, **extra):
    return {**os.environ, "MOSHI_MLX_HOME": str(home), "HF_HUB_OFFLINE": "1", **extra}


def _say(home, *args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "moshi_mlx", "say", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env or _env(home))


def test_wav_and_tokens_equal_the_python_api(tts_home, tmp_path):
    wav, npy = tmp_path / "out.wav", tmp_path / "tokens.npy"
    r = _say(tts_home, TEXT, "--model", "demo-tts", "-o", wav, "--tokens", npy, "--greedy")
    assert r.returncode == 0, r.stderr
    assert "first audio after" in r.stderr and "real-time factor" in r.stderr
    assert r.stdout.split() == TEXT.split(), "the words, printed as they are spoken"
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model
    from moshi_mlx.tts.synth import Synthesizer, TtsSettings
    from moshi_mlx.tts.voice_repo import default_voice, resolve_voice
    from moshi_mlx.tts.info import TtsInfo

    model = load_model(resolve_model("demo-tts", cache_dir=str(tts_home)))
    rows = []
    voice = resolve_voice(default_voice(model), TtsInfo.from_model(model), model)
    synth = Synthesizer(model, [voice], TtsSettings().greedy(), token_sink=rows.append)
    synth.push_text(TEXT)
    synth.end_of_text()
    pcm = np.concatenate([f.pcm for f in synth.frames()])
    tokens = np.load(npy)
    assert tokens.dtype == np.int32 and tokens.shape == (1 + 24, len(rows))
    np.testing.assert_array_equal(tokens, np.stack(rows, 1))
    assert (tokens[1:, :16] == -1).all() and (tokens[1:, 18:] >= 0).all()  # the audio delay
    audio, rate = sf.read(wav, dtype="float32")
    assert rate == 24000 and audio.shape == pcm.shape
    assert np.abs(audio - pcm).max() < 1e-4  # 16-bit
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav", "tokens.npy"]


def test_stdin_lines_are_spoken_as_they_arrive(tts_home, tmp_path):
    wav = tmp_path / "s.wav"
    proc = subprocess.Popen([sys.executable, "-m", "moshi_mlx", "say", "-", "--model", "demo-tts", "-o",
                             str(wav), "--seed", "3"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(tts_home))
    try:
        proc.stdin.write("hello world\n")
        proc.stdin.flush()
        first = ""
        while "world" not in first:  # spoken before any more text comes
            first += proc.stdout.read(1)
            assert proc.poll() is None, proc.stderr.read()
        out, err = proc.communicate("good night\n", timeout=120)  # then end of input
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert (first + out).split() == ["hello", "world", "good", "night"]
    assert sf.info(wav).frames > 0


def test_bad_input_is_refused_and_nothing_is_written(tts_home, tmp_path):
    out = tmp_path / "o.wav"
    cases = [
        (("",), "nothing to say"),
        (("--file", tmp_path / "missing.txt"), "missing.txt"),
        (("hello", "--file", tmp_path / "x"), "give the text"),
        (("hello", "-o", tmp_path / "nowhere" / "o.wav"), "does not exist"),
        (("hello", "--model", "demo"), "speech-to-speech conversation"),
        (("\u4f60\u597d\u4e16\u754c \u3053\u3093\u306b\u3061\u306f",), "cannot encode"),
        (("hello", "--voice", tmp_path / "none.safetensors"), "none.safetensors"),
        (("hello", "--cfg", "7"), "1, 1.5, 2"),
        (("hello", "--codebooks", "40"), "codebooks 40"),
    ]
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    cases.append((("--file", empty), "empty"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("hello caf\u00e9\n".encode("latin-1"))
    cases.append((("--file", latin), "not UTF-8"))
    bad_voice = tmp_path / "wide.safetensors"
    from safetensors.numpy import save_file

    save_file({"speaker_wavs": np.zeros((1, 7, 10), np.float32)}, str(bad_voice))
    cases.append((("hello", "--voice", bad_voice), "width 7"))
    for args, message in cases:
        model = () if "--model" in args else ("--model", "demo-tts")
        output = () if "-o" in args else ("-o", out)
        r = _say(tts_home, *args, *model, *output)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "latin.txt", "wide.safetensors"], args


def test_unknown_voice_name_from_the_hub(tts_home, tmp_path):
    with FakeHub({"kyutai/tts-voices": {"vctk/p225_023.wav.00de0000@1.safetensors": b"x"}}) as hub:
        env = _env(tts_home, HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0")
        r = _say(tts_home, "hello", "--model", "demo-tts", "--voice", "vctk/p999", "-o", tmp_path / "o.wav",
                 env=env)
    assert r.returncode == 2 and "unknown voice 'vctk/p999'" in r.stderr and "--list-voices" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_leaves_nothing(tts_home, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "moshi_mlx", "say", TEXT * 20, "--model", "demo-tts",
                             "-o", str(tmp_path / "long.wav"), "--tokens", str(tmp_path / "t.npy")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tts_home),
                            # Ctrl+C as at a terminal, even where this runs with SIGINT ignored (a
                            # background job of a script): Python then leaves it ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.read(5)  # it is speaking
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_list_voices(tts_home):
    r = _say(tts_home, "--list-voices", "--model", "demo-tts")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("* demo/voice-1.wav") and "model" in lines[0]
    assert lines[1].startswith("  demo/voice-2.wav")


def test_plays_on_the_output_device(tts_home, virtual_audio_device):
    r = _say(tts_home, "hello there", "--model", "demo-tts", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "s of audio" in r.stderr


def test_player_output_reaches_the_device(virtual_audio_device):
    """What the player queues is heard: a tone through the loopback device comes back."""
    import sounddevice as sd

    from moshi_mlx.tts.player import Player

    tone = (0.4 * np.sin(2 * np.pi * 440 * np.arange(24000) / 24000)).astype(np.float32)
    recorded = []
    with sd.InputStream(samplerate=24000, channels=1, dtype="float32",
                        callback=lambda data, *_: recorded.append(data[:, 0].copy())):
        player = Player()
        player.start()
        try:
            for i in range(0, len(tone), 1920):
                player.write(tone[i:i + 1920])
            player.drain()
        finally:
            player.close()
    heard = np.concatenate(recorded)
    assert np.sqrt(np.mean(heard ** 2)) > 0.05, "the tone came back through the loopback"
    assert player.played_samples >= len(tone)
