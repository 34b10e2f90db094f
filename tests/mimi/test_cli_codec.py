"""The numpy frame codecs (MLX and rustymimi backends) and the encode/decode command line."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from moshi_mlx.errors import ConfigError
from moshi_mlx.mimi import MimiConfig, StreamingCodec, load_mimi, open_codec

from .reference import make_signal

TINY_JSON = json.dumps(MimiConfig.tiny().to_dict())


def _run(*args):
    return subprocess.run([sys.executable, "-m", "moshi_mlx", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_cli_round_trip_48k_stereo(tiny_checkpoint, tmp_path):
    t = np.arange(int(48000 * 1.3)) / 48000
    stereo = np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 500 * t)], 1) * 0.4
    wav = tmp_path / "in.wav"
    sf.write(wav, stereo.astype(np.float32), 48000)
    npy, out = tmp_path / "codes.npy", tmp_path / "out.wav"
    r = _run("encode", wav, npy, "--mimi", tiny_checkpoint, "--mimi-config", TINY_JSON, "--codebooks", 5)
    assert r.returncode == 0, r.stderr
    codes = np.load(npy)
    assert codes.dtype == np.int32 and codes.shape == (5, 17)  # 1.3 s -> 16.25 frames, padded
    assert codes.min() >= 0 and codes.max() < MimiConfig.tiny().codebook_size
    # Same codes as the Python API on the same (resampled, mixed-down) audio.
    from moshi_mlx.audio_io import pad_to_frames, read_audio

    codec = open_codec(tiny_checkpoint, num_codebooks=5, config=MimiConfig.tiny())
    pcm = pad_to_frames(read_audio(wav), 1920).reshape(-1, 1920)
    np.testing.assert_array_equal(np.stack([codec.encode_frame(f) for f in pcm], 1), codes)

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"mimi_name": "codec.safetensors",
                                                       "mimi_config": MimiConfig.tiny().to_dict()}))
    (model_dir / "codec.safetensors").write_bytes(tiny_checkpoint.read_bytes())
    r = _run("decode", npy, out, "--model", model_dir)
    assert r.returncode == 0, r.stderr
    audio, rate = sf.read(out, dtype="float32")
    assert rate == 24000 and audio.ndim == 1 and audio.shape[0] == 17 * 1920
    codec.reset()
    expected = np.concatenate([codec.decode_frame(codes[:, i]) for i in range(17)])
    np.testing.assert_allclose(audio, np.clip(expected, -1, 1), atol=1e-6)


def test_cli_errors_are_messages(tiny_checkpoint, tmp_path):
    r = _run("encode", tmp_path / "missing.wav", tmp_path / "c.npy", "--mimi", tiny_checkpoint,
             "--mimi-config", TINY_JSON)
    assert r.returncode == 2 and "missing.wav" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 4, 5), np.float32))
    r = _run("decode", bad, tmp_path / "o.wav", "--mimi", tiny_checkpoint, "--mimi-config", TINY_JSON)
    assert r.returncode == 2 and "bad.npy" in r.stderr and "Traceback" not in r.stderr
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((8, 2), np.int32))
    r = _run("decode", good, tmp_path / "o.wav", "--model", tmp_path)
    assert r.returncode == 2 and "no Mimi weights" in r.stderr
    r = _run("encode", tmp_path / "x.wav", tmp_path / "c.npy", "--mimi", tiny_checkpoint,
             "--mimi-config", '{"nope": 1}')
    assert r.returncode == 2 and "unknown keys" in r.stderr


def test_mlx_codec_frames_match_model_streaming(tiny_checkpoint):
    codec = open_codec(tiny_checkpoint, num_codebooks=8, config=MimiConfig.tiny())
    assert isinstance(codec, StreamingCodec)
    assert (codec.sample_rate, codec.frame_size, codec.num_codebooks) == (24000, 1920, 8)
    pcm = make_signal(1, 6, seed=2)[0, 0]
    codes = np.stack([codec.encode_frame(f) for f in pcm.reshape(-1, 1920)], 1)
    model = load_mimi(tiny_checkpoint, num_codebooks=8, config=MimiConfig.tiny())
    import mlx.core as mx

    np.testing.assert_array_equal(codes, np.array(model.encode(mx.array(pcm[None, None])))[0])
    with pytest.raises(ValueError, match="1920 samples"):
        codec.encode_frame(np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="0..63"):
        codec.decode_frame(np.full(8, 64))
    with pytest.raises(ConfigError, match="rustymimi"):
        open_codec(tiny_checkpoint, backend="rustymimi", config=MimiConfig.tiny())
    with pytest.raises(ConfigError, match="unknown codec backend"):
        open_codec(tiny_checkpoint, backend="torch")


def test_mlx_codec_decodes_fewer_codebooks(tiny_checkpoint):
    """A codec opened with 8 codebooks decodes frames of the first K (TTS: 24 of 32) exactly as
    Kyutai's Mimi set to K codebooks decodes them, frame by frame."""
    from .reference import ref_stream, reference_mimi

    codec = open_codec(tiny_checkpoint, num_codebooks=8, config=MimiConfig.tiny())
    codes = np.random.default_rng(4).integers(0, 64, (5, 12)).astype(np.int32)
    ours = np.concatenate([codec.decode_frame(codes[:, i]) for i in range(12)])
    ref = reference_mimi(MimiConfig.tiny(), tiny_checkpoint, num_codebooks=5)
    _, expected = ref_stream(ref, np.zeros((1, 1, 1920), np.float32), codes[None])
    np.testing.assert_allclose(ours, expected.reshape(-1), atol=1e-4)
    with pytest.raises(ValueError, match="1 to 8 codes"):
        codec.decode_frame(np.zeros(9, np.int32))


@pytest.mark.slow
def test_mlx_matches_rustymimi(full_checkpoint):
    """Both backends on the same release-format checkpoint, frame by frame."""
    mlx_codec = open_codec(full_checkpoint, backend="mlx", num_codebooks=8)
    rust_codec = open_codec(full_checkpoint, backend="rustymimi", num_codebooks=8)
    frames = make_signal(1, 40, seed=7)[0, 0].reshape(-1, 1920)
    ours = np.stack([mlx_codec.encode_frame(f) for f in frames], 1)
    theirs = np.stack([rust_codec.encode_frame(f) for f in frames], 1)
    agree = (ours == theirs).mean()
    assert agree >= 0.999, f"codes agree on {agree:.4%}"
    a = np.concatenate([mlx_codec.decode_frame(ours[:, i]) for i in range(ours.shape[1])])
    b = np.concatenate([rust_codec.decode_frame(ours[:, i]) for i in range(ours.shape[1])])
    err = np.abs(a - b).max()
    assert err <= 1e-3, f"audio max abs error {err}"


@pytest.mark.slow
def test_bench_codec_json_side_by_side(full_checkpoint):
    r = _run("bench", "codec", "--frames", 2, "--warmup", 1, "--weights", full_checkpoint, "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert list(res["backends"]) == ["mlx", "rustymimi", "kyutai-mlx"]
    for name, entry in res["backends"].items():
        assert "error" not in entry, (name, entry)
        assert entry["encode_ms"]["mean"] > 0 and entry["decode_ms"]["mean"] > 0
    assert res["backends"]["rustymimi"]["codes_agree_with"] >= 0.9
    assert set(res["ratio_mlx_vs_kyutai"]) == {"encode", "decode"}
