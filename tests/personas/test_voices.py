"""Voice files: NVIDIA's .pt voices read without unpickling code (same tensors as torch's
weights_only load; a pickle with code in it refused, nothing run, nothing written), voices.tgz
converted once, voices from recordings, and bad files with clear errors."""

import os
import pickle
import zipfile

import mlx.core as mx
import numpy as np
import pytest
import torch

from moshi_mlx.errors import MoshiError
from moshi_mlx.personas import nvidia
from moshi_mlx.personas.torch_pickle import UnsafePickleError, read_torch_file
from moshi_mlx.personas.voices import (Voice, VoiceError, check_voice, load_voice, normalize_loudness,
                                       read_recording, save_voice, voice_info)

from .conftest import CONFIG
from .test_prompt import stored_voice


def test_reader_equals_torch_weights_only(tmp_path):
    base = torch.randn(6, 10)
    saved = {"bf16": torch.randn(3, 1, 1, 8).to(torch.bfloat16), "long": torch.arange(68).view(1, 17, 4),
             "view": base.t(), "slice": base[2:4, 3:], "half": torch.randn(5).half(),
             "nested": [torch.ones(2, dtype=torch.int32), {"x": 1.5}]}
    path = tmp_path / "t.pt"
    torch.save(saved, path)
    ref = torch.load(path, weights_only=True)
    ours = read_torch_file(path)
    for key in ("long", "view", "slice", "half"):
        np.testing.assert_array_equal(ours[key].array, ref[key].numpy(), err_msg=key)
    np.testing.assert_array_equal(ours["bf16"].float32(), ref["bf16"].float().numpy())
    assert ours["nested"][1] == {"x": 1.5} and ours["nested"][0].array.dtype == np.int32


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil_pt(path, marker):
    """A torch-format zip whose pickle runs a shell command when unpickled."""
    data = pickle.dumps({"embeddings": _Evil(marker), "cache": 1}, protocol=2)
    assert b"system" in data
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    return path


def test_pickle_with_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = evil_pt(tmp_path / "NATF0.pt", marker)
    with pytest.raises(UnsafePickleError, match="refused.*system"):
        nvidia.voice_from_pt_file(path)
    with pytest.raises(pickle.UnpicklingError):  # torch's own safe load refuses it too
        torch.load(path, weights_only=True)
    assert not marker.exists()


def pt_bytes(lm, voice_codes, tmp_path, name="v"):
    emb, ring = stored_voice(lm, voice_codes)
    path = tmp_path / f"{name}.pt"
    torch.save({"embeddings": torch.tensor(emb)[:, None, None, :].to(torch.bfloat16),
                "cache": torch.tensor(ring)}, path)
    return path.read_bytes()


def test_voice_archive_converted_once(lm, voice_codes, tmp_path):
    data = pt_bytes(lm, voice_codes, tmp_path)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "voices.tgz").write_bytes(nvidia.tar_bytes({"NATF0.pt": data, "VARM1.pt": data}))
    voices = nvidia.ensure_model_voices(folder)
    assert sorted(p.name for p in voices.iterdir()) == ["NATF0.safetensors", "VARM1.safetensors"]
    voice = load_voice(voices / "NATF0.safetensors")
    assert voice.embeddings.dtype == mx.bfloat16 and voice.embeddings.shape == (8, CONFIG.dim)
    check_voice(voice, CONFIG, 8)
    assert voice_info(voices / "VARM1.safetensors", "model").frames == len(voice_codes)
    assert nvidia.convert_archive(folder / "voices.tgz", voices) == []  # converted once


def test_bad_archive_member_writes_nothing(lm, voice_codes, tmp_path):
    data = pt_bytes(lm, voice_codes, tmp_path)
    marker = tmp_path / "pwned"
    evil = evil_pt(tmp_path / "evil.pt", marker).read_bytes()
    archive = tmp_path / "voices.tgz"
    archive.write_bytes(nvidia.tar_bytes({"NATF0.pt": data, "ZZZ.pt": evil}))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnsafePickleError):
        nvidia.convert_archive(archive, out)
    assert list(out.iterdir()) == [] and not marker.exists()


def test_read_only_model_folder_gets_voices_in_home(lm, voice_codes, tmp_path, monkeypatch):
    monkeypatch.setenv("MOSHI_MLX_HOME", str(tmp_path / "home"))
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "voices.tgz").write_bytes(nvidia.tar_bytes({"NATM2.pt": pt_bytes(lm, voice_codes, tmp_path)}))
    # a folder where nothing can be created (root ignores permission bits: a file in the way)
    (tmp_path / "blocked").write_text("")
    monkeypatch.setattr(nvidia, "model_voice_dir", lambda f: tmp_path / "blocked" / "voices")
    voices = nvidia.ensure_model_voices(folder)
    assert voices.is_relative_to(tmp_path / "home") and (voices / "NATM2.safetensors").is_file()
    assert sorted(p.name for p in folder.iterdir()) == ["voices.tgz"]


def write(path, arrays, metadata=None):
    mx.save_safetensors(str(path), arrays, metadata=metadata or {"moshi_mlx": "voice", "version": "1",
                                                                 "name": path.stem, "source": ""})
    return path


@pytest.mark.parametrize("arrays,error", [
    ({"codes": mx.zeros((10, 8), mx.float32)}, "'codes' must be integers"),
    ({"codes": mx.zeros((10,), mx.int32)}, "not a voice file"),
    ({"codes": mx.zeros((10, 8), mx.int32), "embeddings": mx.zeros((9, 4, 2))}, "'embeddings' must be floats"),
    ({"codes": mx.zeros((10, 8), mx.int32), "embeddings": mx.zeros((5, 64))}, "covers 5 positions"),
    ({"codes": mx.zeros((10, 8), mx.int32), "other": mx.zeros((1,))}, "unexpected tensors"),
])
def test_bad_voice_files(tmp_path, arrays, error):
    with pytest.raises(VoiceError, match=error):
        load_voice(write(tmp_path / "bad.safetensors", arrays))


def test_voice_not_for_this_model(tmp_path):
    with pytest.raises(VoiceError, match="5 codebooks"):
        check_voice(Voice("x", np.zeros((10, 5), np.int64)), CONFIG, 8)
    with pytest.raises(VoiceError, match="outside"):
        check_voice(Voice("x", np.full((10, 8), 5000)), CONFIG, 8)
    with pytest.raises(VoiceError, match="width 32"):
        check_voice(Voice("x", np.zeros((10, 8), np.int64), np.zeros((9, 32), np.float32)), CONFIG, 8)
    with pytest.raises(VoiceError, match="codes missing"):
        check_voice(Voice("x", np.full((10, 8), -1)), CONFIG, 8)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(VoiceError, match="junk.safetensors"):
        load_voice(junk)
    with pytest.raises(VoiceError, match="not a voice file"):  # safetensors, but no voice metadata
        load_voice(write(tmp_path / "w.safetensors", {"codes": mx.zeros((3, 8), mx.int32)}, {"a": "b"}))


def test_save_voice_round_trip_and_never_overwrites(tmp_path):
    voice = Voice("Mine", np.arange(24).reshape(3, 8) % 7, None, "me.wav")
    path = save_voice(voice, tmp_path / "Mine.safetensors")
    back = load_voice(path)
    assert back.name == "Mine" and back.embeddings is None
    np.testing.assert_array_equal(back.codes, voice.codes)
    with pytest.raises(VoiceError, match="already exists"):
        save_voice(voice, path)
    assert [p.name for p in tmp_path.iterdir()] == ["Mine.safetensors"]  # no temporary left


def test_recordings(tmp_path):
    import pyloudnorm
    import soundfile as sf

    rate = 24000
    t = np.arange(3 * rate) / rate
    speechy = (0.05 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    normalized = normalize_loudness(speechy, rate)
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(normalized.astype(np.float64)) + 24) < 0.1
    sf.write(tmp_path / "44k.wav", np.repeat(speechy[::1], 1), rate)
    assert len(read_recording(tmp_path / "44k.wav")) == len(speechy)
    with pytest.raises(VoiceError, match="silent"):
        normalize_loudness(np.zeros(rate * 2, np.float32), rate)
    sf.write(tmp_path / "short.wav", speechy[: rate // 2], rate)
    with pytest.raises(VoiceError, match="0.5 s long"):
        read_recording(tmp_path / "short.wav")
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav")
    with pytest.raises(VoiceError, match="broken.wav"):
        read_recording(tmp_path / "broken.wav")
    with pytest.raises(MoshiError, match="no such file"):
        read_recording(tmp_path / "missing.wav")


def test_converted_model_carries_its_voices(lm, voice_codes, tmp_path):
    """moshi-quantize turns a PersonaPlex folder's voices.tgz into voices/*.safetensors (manifest)."""
    import json

    from moshi_quantize.convert import convert
    from moshi_quantize.outdir import verify_manifest
    from tests.quantize.checkpoints import tiny_config, write_release_folder

    source = tmp_path / "personaplex"
    write_release_folder(source, tiny_config(num_layers=1, dep_q=16), dtype=torch.float32)
    (source / "voices.tgz").write_bytes(nvidia.tar_bytes({"NATF1.pt": pt_bytes(lm, voice_codes, tmp_path)}))
    out = convert(str(source), tmp_path / "q4", bits=4).output
    assert (out / "voices" / "NATF1.safetensors").is_file()
    assert "voices/NATF1.safetensors" in json.loads((out / "manifest.json").read_text())["files"]
    assert verify_manifest(out) == []
