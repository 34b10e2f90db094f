"""The streaming file pieces: AudioFileReader, WavWriter, NpyColumnWriter, OutputSet."""

import numpy as np
import pytest
import soundfile as sf
import soxr

from moshi_mlx.audio_io import AudioFileReader, WavWriter, clean_pcm, read_audio
from moshi_mlx.errors import MoshiError
from moshi_mlx.npyfile import CodesFile, NpyColumnWriter
from moshi_mlx.outputs import OutputSet


@pytest.mark.parametrize("rate, channels", [(44100, 2), (24000, 1), (8000, 3)])
def test_reader_frames_equal_one_shot_resampling(tmp_path, rate, channels):
    rng = np.random.default_rng(rate)
    pcm = (rng.standard_normal((int(rate * 2.3), channels)) * 0.2).astype(np.float32)
    sf.write(tmp_path / "a.wav", pcm, rate, subtype="FLOAT")
    mono = pcm.mean(axis=1, dtype=np.float32)
    whole = mono if rate == 24000 else soxr.resample(mono, rate, 24000, quality="HQ")
    with AudioFileReader(tmp_path / "a.wav", 1920) as reader:
        frames = list(reader)
        assert reader.notes() == [] and reader.frames == len(frames)
    assert all(f.shape == (1920,) and f.dtype == np.float32 for f in frames)
    got = np.concatenate(frames)
    np.testing.assert_array_equal(got[:len(whole)], whole.astype(np.float32))
    assert not got[len(whole):].any() and len(got) - len(whole) < 1920
    np.testing.assert_array_equal(read_audio(tmp_path / "a.wav"), whole.astype(np.float32))


def test_clean_pcm():
    x = np.array([0.5, np.nan, -np.inf, 1e30, -40.0, 31.0], np.float32)
    y, bad = clean_pcm(x)
    assert bad == 4 and y.tolist() == [0.5, 0, 0, 0, 0, 31.0]
    ok = np.zeros(4, np.float32)
    assert clean_pcm(ok)[0] is ok and clean_pcm(ok)[1] == 0


def test_npy_columns_round_trip_and_checks(tmp_path):
    cols = np.arange(5 * 9, dtype=np.int32).reshape(5, 9)
    with NpyColumnWriter(tmp_path / "c.npy", 9) as w:
        for c in cols:
            w.append(c)
    got = np.load(tmp_path / "c.npy")
    assert got.shape == (9, 5) and np.array_equal(got, cols.T)
    np.save(tmp_path / "c_order.npy", cols.T.copy())  # what np.save writes: rows contiguous
    for name in ("c.npy", "c_order.npy"):
        with CodesFile(tmp_path / name) as codes:
            assert codes.shape == (9, 5)
            assert np.array_equal(np.stack(list(codes.columns(block=2)), 1), cols.T)
    raw = (tmp_path / "c_order.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(raw[:-4])
    with pytest.raises(MoshiError, match="short.npy: truncated"):
        CodesFile(tmp_path / "short.npy")
    with pytest.raises(ValueError, match="expected 9"):
        NpyColumnWriter(tmp_path / "d.npy", 9).append(np.zeros(8))
    (tmp_path / "p.npy").write_bytes(b"\x80\x04\x95")
    with pytest.raises(MoshiError, match="pickle"):
        CodesFile(tmp_path / "p.npy")


def test_output_set_all_or_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with OutputSet() as outputs:
            a, b = outputs.add(tmp_path / "a.txt", "--a"), outputs.add(tmp_path / "b.wav", "--b")
            a.write_text("new")
            with WavWriter(b) as wav:
                wav.write(np.zeros(100, np.float32))
            raise RuntimeError("failed before the end")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old"
    with OutputSet() as outputs:
        a = outputs.add(tmp_path / "a.txt", "--a")
        assert outputs.add(None, "--none") is None
        a.write_text("new")
        outputs.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "new"


def test_outputs_get_the_normal_permissions_and_recording_folders_are_checked(tmp_path):
    import os

    from moshi_mlx.outputs import writable_folder

    old = os.umask(0o022)
    try:
        with OutputSet() as outputs:
            outputs.add(tmp_path / "a.txt", "--a").write_text("x")
            outputs.commit()
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert not writable_folder(tmp_path / "rec" / "deeper", "--record").exists()  # made when used
    with pytest.raises(MoshiError, match="--record .*a.txt: is a file, not a folder"):
        writable_folder(tmp_path / "a.txt", "--record")
    with pytest.raises(MoshiError, match="--out .*a.txt is not a folder"):
        OutputSet().add(tmp_path / "a.txt" / "x.wav", "--out")
