"""`encode` / `decode` with bad inputs and outputs (issue 20, items 4, 7, 8): a clear message naming
the file and what is wrong, exit code 2, no traceback, nothing written."""

import zipfile

import numpy as np
import pytest
import soundfile as sf

from tests.support.files import assert_clean_error, moshi, readonly_folder, tone


def _codec(demo_home, command, inp, out, *extra):
    return moshi(command, inp, out, "--model", "demo", "--cache-dir", demo_home, *extra)


@pytest.fixture
def clip(tmp_path):
    return tone(tmp_path / "in.wav", 0.5)


def test_encode_and_decode_accept_demo_like_every_command(tmp_path, demo_home, clip):
    r = _codec(demo_home, "encode", clip, tmp_path / "c.npy")
    assert r.returncode == 0, r.stderr
    codes = np.load(tmp_path / "c.npy")
    assert codes.dtype == np.int32 and codes.shape == (8, 7)  # 0.5 s = 6.25 frames, padded
    r = _codec(demo_home, "decode", tmp_path / "c.npy", tmp_path / "d.wav")
    assert r.returncode == 0, r.stderr
    assert sf.info(tmp_path / "d.wav").frames == 7 * 1920


@pytest.mark.parametrize("command", ["encode", "decode"])
def test_bad_output_paths(tmp_path, demo_home, clip, command):
    inp = clip
    if command == "decode":
        inp = tmp_path / "c.npy"
        np.save(inp, np.zeros((8, 3), np.int32))
    for out, words in ((tmp_path / "missing" / "x", ["missing", "does not exist"]),
                       (tmp_path, ["is a folder"]),
                       (readonly_folder(tmp_path) / "x", ["read-only"])):
        before = sorted(p.name for p in tmp_path.iterdir())
        assert_clean_error(_codec(demo_home, command, inp, out), *words)
        assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_codes_files_that_are_not_codes(tmp_path, demo_home):
    cases = {}
    cases["empty.npy"] = b"", "is empty"
    text = tmp_path / "text.npy"
    text.write_text("1 2 3\n4 5 6\n")
    cases["text.npy"] = None, "not a .npy file"
    npz = tmp_path / "archive.npy"
    np.savez(tmp_path / "a.npz", codes=np.zeros((8, 3), np.int32))
    npz.write_bytes((tmp_path / "a.npz").read_bytes())
    assert zipfile.is_zipfile(npz)
    cases["archive.npy"] = None, ".npz archive"
    np.save(tmp_path / "transposed.npy", np.zeros((40, 8), np.int32))
    cases["transposed.npy"] = None, "looks transposed"
    np.save(tmp_path / "floats.npy", np.zeros((8, 4), np.float32))
    cases["floats.npy"] = None, "int array"
    np.save(tmp_path / "range.npy", np.full((8, 4), 999, np.int32))
    cases["range.npy"] = None, "frame 0"
    np.save(tmp_path / "none.npy", np.zeros((8, 0), np.int32))
    cases["none.npy"] = None, "holds no frames"
    for name, (data, words) in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        r = _codec(demo_home, "decode", tmp_path / name, tmp_path / "o.wav")
        assert_clean_error(r, name, words)
        assert "weights" not in r.stderr, "the codes are at fault, not the weights"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") or p.name == "o.wav"]


def test_encode_codebooks_and_bad_audio(tmp_path, demo_home, clip):
    for k in ("0", "9"):  # the demo Mimi has 8 codebooks
        r = _codec(demo_home, "encode", clip, tmp_path / "c.npy", "--codebooks", k)
        assert_clean_error(r, f"--codebooks {k}", "this Mimi has 8 codebooks")
    dirty = tone(tmp_path / "dirty.wav", 0.5, subtype="FLOAT", bad={10: np.nan, 11: 1e30})
    clean = tone(tmp_path / "clean.wav", 0.5, subtype="FLOAT", bad={10: 0.0, 11: 0.0})
    r = _codec(demo_home, "encode", dirty, tmp_path / "a.npy")
    assert r.returncode == 0 and "2 samples were NaN, infinite or absurd" in r.stderr
    assert _codec(demo_home, "encode", clean, tmp_path / "b.npy").returncode == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    header_only = tmp_path / "header.wav"
    sf.write(header_only, np.zeros(0, np.float32), 24000)
    assert_clean_error(_codec(demo_home, "encode", header_only, tmp_path / "e.npy"), "header.wav",
                       "holds no audio")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") or p.name == "e.npy"]
