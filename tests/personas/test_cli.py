"""`run --voice/--role` and `voices` with demo-personaplex: the demo voices are made locally, a
conversation over a file keeps `--tokens` aligned (one column per input frame after the prompt),
a restored persona gives the same tokens, and bad input stops with a clear message and no output."""

import numpy as np
import pytest
import soundfile as sf

from moshi_mlx.cli import main


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("persona-cli-home")


@pytest.fixture
def env(home, monkeypatch, tmp_path):
    monkeypatch.setenv("MOSHI_MLX_HOME", str(home))
    rate = 24000
    t = np.arange(int(2.5 * rate)) / rate
    pcm = (0.2 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    sf.write(tmp_path / "in.wav", pcm, rate)
    return tmp_path


def run(tmp, *extra, out="out.wav"):
    return main(["run", "--model", "demo-personaplex", "--input", str(tmp / "in.wav"), "--output",
                 str(tmp / out), "--seed", "4", "--quiet", *extra])


def test_run_with_voice_and_role(env, capsys):
    assert run(env, "--voice", "demo-mid", "--role", "You are a pirate.", "--tokens",
               str(env / "a.npy")) == 0
    tokens = np.load(env / "a.npy")
    assert tokens.shape == (9, 32)  # one column per input frame: the prompt's frames are not in it
    info = sf.info(env / "out.wav")
    assert info.frames == 32 * 1920
    (env / "role.txt").write_text("You are a pirate.\n")
    assert run(env, "--voice", "demo-mid", "--role", "@" + str(env / "role.txt"), "--tokens",
               str(env / "b.npy"), out="b.wav") == 0
    np.testing.assert_array_equal(np.load(env / "b.npy"), tokens)  # same persona, same seed
    assert run(env, "--voice", "demo-high", "--role", "You are a pirate.", "--tokens",
               str(env / "c.npy"), out="c.wav") == 0
    assert not np.array_equal(np.load(env / "c.npy"), tokens)  # the voice matters


def test_voices_list_and_add(env, home, capsys):
    assert main(["voices", "--model", "demo-personaplex"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("demo-low", "demo-mid", "demo-high"))
    assert main(["voices", "--model", "demo-personaplex", "--add", "Me", "--from", str(env / "in.wav")]) == 0
    assert (home / "voices" / "Me.safetensors").is_file()
    capsys.readouterr()
    assert main(["voices", "--model", "demo-personaplex"]) == 0
    assert "Me" in capsys.readouterr().out
    assert run(env, "--voice", "Me") == 0  # the user's voice by name
    assert run(env, "--voice", str(env / "in.wav"), out="rec.wav") == 0  # a recording directly
    assert main(["voices", "--model", "demo-personaplex", "--add", "Me", "--from", str(env / "in.wav")]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--voice", "nobody"], "unknown voice 'nobody'"),
    (["--role", "@/no/such/role.txt"], "cannot read the role file"),
    (["--role", "tell me a story " * 20], "shorten the role text"),
    (["--voice", "BROKEN.wav"], "BROKEN.wav"),
])
def test_bad_persona_writes_nothing(env, capsys, args, message):
    (env / "BROKEN.wav").write_bytes(b"RIFF....WAVEjunk")
    args = [a.replace("BROKEN.wav", str(env / "BROKEN.wav")) for a in args]
    assert run(env, *args, "--tokens", str(env / "t.npy")) == 2
    assert message in capsys.readouterr().err
    assert not (env / "out.wav").exists() and not (env / "t.npy").exists()


def test_moshi_model_refuses_persona_options(env, capsys):
    assert main(["run", "--model", "demo", "--input", str(env / "in.wav"), "--output",
                 str(env / "o.wav"), "--role", "x", "--quiet"]) == 2
    assert "do not apply to a moshi model" in capsys.readouterr().err


def test_voices_needs_a_personaplex_model(env, capsys):
    assert main(["voices", "--model", "demo"]) == 2
    assert "`voices` needs a conversation with a voice and role prompt" in capsys.readouterr().err
