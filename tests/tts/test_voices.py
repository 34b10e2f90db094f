"""Voices of kyutai/tts-voices on a local fake hub: listed by name and language for the model they
were made for, downloaded on demand with progress into the HF cache (then found offline), bare
names, and the voice files' checks."""

import numpy as np
import pytest
from safetensors.numpy import save_file

from moshi_mlx.errors import MoshiError
from moshi_mlx.tts import voice_repo
from moshi_mlx.tts.info import TtsInfo
from moshi_mlx.tts.machine import TokenIds
from moshi_mlx.tts.voices import VoiceError, check_voices, load_voice_file, speaker_condition
from tests.support.fake_hub import FakeHub, point_hub_at

SUFFIX = ".1e68beda@240.safetensors"
INFO = TtsInfo(delay_steps=16, lookahead=2, max_speakers=5, speaker_condition="speaker_wavs",
               speaker_dim=8, cfg_values=(1.0, 2.0), voice_suffix=SUFFIX, token_ids=TokenIds(8001),
               dep_q=32, n_q=32)
PREFIX_INFO = TtsInfo(delay_steps=16, lookahead=2, max_speakers=5, speaker_condition=None, speaker_dim=0,
                      cfg_values=(), voice_suffix="", token_ids=TokenIds(8001), dep_q=16, n_q=16)


def _embedding(tmp_path, frames=6, seed=0, dim=8) -> bytes:
    path = tmp_path / f"e{seed}.safetensors"
    emb = np.random.default_rng(seed).standard_normal((1, dim, frames)).astype(np.float32)
    save_file({"speaker_wavs": emb}, str(path))
    return path.read_bytes()


@pytest.fixture
def voice_hub(monkeypatch, tmp_path):
    files = {
        f"vctk/p225_023.wav{SUFFIX}": _embedding(tmp_path, seed=1),
        f"cml-tts/fr/1406_1028_000009-0003.wav{SUFFIX}": _embedding(tmp_path, seed=2),
        f"expresso/ex03-ex01_happy_001_channel1_334s.wav{SUFFIX}": _embedding(tmp_path, seed=3),
        f"voice-donations/Goku.wav{SUFFIX}": _embedding(tmp_path, seed=4),
        "vctk/p225_023.wav": b"RIFF....",  # recordings (for audio-prefix models)
        "vctk/p225_023.wav.d6ef30c7@1000.safetensors": _embedding(tmp_path, seed=5),  # another model's
        "README.md": b"# voices",
    }
    with FakeHub({voice_repo.VOICE_REPO: files}) as server:
        point_hub_at(monkeypatch, server, chunk_bytes=64)
        yield server


def test_list_by_name_and_language(voice_hub, tmp_path):
    cache = str(tmp_path / "cache")
    voices = voice_repo.list_voices(INFO, cache_dir=cache)
    assert [(v.name, v.language, v.installed) for v in voices] == [
        ("cml-tts/fr/1406_1028_000009-0003.wav", "fr", False),
        ("expresso/ex03-ex01_happy_001_channel1_334s.wav", "en", False),
        ("vctk/p225_023.wav", "en", False),
        ("voice-donations/Goku.wav", "?", False),
    ]
    prefix = voice_repo.list_voices(PREFIX_INFO, cache_dir=cache)
    assert [v.name for v in prefix] == ["vctk/p225_023.wav"]  # recordings, for audio-prefix models


def test_download_on_demand_then_offline(voice_hub, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    progress = []
    voice = voice_repo.resolve_voice("vctk/p225_023", INFO, cache_dir=cache,
                                     progress=lambda d, t: progress.append((d, t)))
    assert voice.name == "vctk/p225_023.wav" and voice.embedding.shape == (6, 8)
    total = len(voice_hub.repos[voice_repo.VOICE_REPO][f"vctk/p225_023.wav{SUFFIX}"])
    assert progress[0] == (0, total) and progress[-1] == (total, total) and len(progress) > 3
    n = len(voice_hub.requests)
    again = voice_repo.resolve_voice("vctk/p225_023.wav", INFO, cache_dir=cache)
    assert len(voice_hub.requests) == n, "cached: no request"
    np.testing.assert_array_equal(again.embedding, voice.embedding)
    # a bare name, resolved through the listing
    assert voice_repo.resolve_voice("Goku", INFO, cache_dir=cache).name == "voice-donations/Goku.wav"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    listed = voice_repo.list_voices(INFO, cache_dir=cache)
    assert [(v.name, v.installed) for v in listed] == [("vctk/p225_023.wav", True),
                                                       ("voice-donations/Goku.wav", True)]
    assert voice_repo.resolve_voice("p225_023", INFO, cache_dir=cache).name == "vctk/p225_023.wav"
    with pytest.raises(MoshiError, match="network is off"):
        voice_repo.resolve_voice("expresso/ex03-ex01_happy_001_channel1_334s", INFO, cache_dir=cache)


def test_unknown_and_bad_voices(voice_hub, tmp_path):
    cache = str(tmp_path / "cache")
    with pytest.raises(VoiceError, match="unknown voice 'vctk/p999'"):
        voice_repo.resolve_voice("vctk/p999", INFO, cache_dir=cache)
    with pytest.raises(VoiceError, match="does not exist"):
        voice_repo.resolve_voice(str(tmp_path / "mine.safetensors"), INFO)
    bad = tmp_path / "bad.safetensors"
    save_file({"other": np.zeros((2, 2), np.float32)}, str(bad))
    with pytest.raises(VoiceError, match="speaker_wavs"):
        load_voice_file(bad)
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    with pytest.raises(VoiceError, match="not a readable"):
        load_voice_file(tmp_path / "junk.safetensors")
    short, long_ = (load_voice_file(_write(tmp_path, f, n)) for f, n in (("s", 6), ("l", 9)))
    with pytest.raises(VoiceError, match="different lengths"):
        check_voices(INFO, [short, long_], "m")
    with pytest.raises(VoiceError, match="at most 5"):
        check_voices(INFO, [short] * 6, "m")


def _write(tmp_path, name, frames):
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(_embedding(tmp_path, frames=frames))
    return path


def test_speaker_slots(tmp_path):
    a, b = (load_voice_file(_write(tmp_path, n, 6)) for n in ("a", "b"))
    tensor, mask = speaker_condition(INFO, [a, b])
    assert tensor.shape == (5 * 6, 8) and mask.tolist() == [True] * 12 + [False] * 18
    np.testing.assert_array_equal(tensor[6:12], b.embedding)
    assert not tensor[12:].any()


def test_quick_list_for_a_picker_without_loading_or_network(voice_hub, tmp_path):
    cache = str(tmp_path / "cache")
    voice_repo.resolve_voice("vctk/p225_023", INFO, cache_dir=cache)  # downloaded once
    voice_hub.requests.clear()
    folder = tmp_path / "model"
    (folder / "voices" / "mine").mkdir(parents=True)
    (folder / "voices" / "mine" / f"me.wav{SUFFIX}").write_bytes(_embedding(tmp_path, seed=9))
    (folder / "voices" / "mine" / "notes.txt").write_text("not a voice")
    config = {"model_type": "tts", "model_id": {"sig": "1e68beda", "epoch": 240}}
    default, names = voice_repo.quick_voice_list(config, folder, cache)
    assert default == voice_repo.DEFAULT_VOICE
    assert names == [voice_repo.DEFAULT_VOICE, "mine/me.wav", "vctk/p225_023.wav"]
    config["tts_config"] = {"default_voice": "mine/me.wav"}
    assert voice_repo.quick_voice_list(config, folder, cache) == ("mine/me.wav", ["mine/me.wav", "vctk/p225_023.wav"])
    # an audio-prefix model (no model_id signature) lists recordings only
    assert voice_repo.quick_voice_list({}, None, cache)[1] == [voice_repo.DEFAULT_VOICE]
    assert voice_hub.requests == []
