"""Saved personas, role presets, voices from the app's recordings and voice previews."""

import numpy as np
import pytest

from moshi_mlx.personas.store import (ROLE_PRESETS, PersonaStoreError, SavedPersona, delete_persona,
                                      load_personas, save_persona)


def test_saved_personas(tmp_path):
    path = tmp_path / "personas.json"
    assert load_personas(path) == []
    tutor = SavedPersona("Tutor", "demo-low", ROLE_PRESETS["Language tutor"])
    save_persona(tutor, path)
    save_persona(SavedPersona("Pirate", None, "You are a pirate."), path)
    save_persona(SavedPersona("Tutor", "demo-high", "Strict."), path)  # replaced by name
    names = [(p.name, p.voice) for p in load_personas(path)]
    assert names == [("Pirate", None), ("Tutor", "demo-high")]
    assert load_personas(path)[0].kind_options() == {"role": "You are a pirate."}
    assert [p.name for p in delete_persona("Pirate", path)] == ["Tutor"]
    assert sorted(q.name for q in tmp_path.iterdir()) == ["personas.json"]
    path.write_text("{broken")
    with pytest.raises(PersonaStoreError, match="personas.json"):
        load_personas(path)
    assert set(ROLE_PRESETS) == {"Assistant", "Language tutor", "Interview practice", "Storyteller",
                                 "Customer-service trainee"}


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory):
    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model

    return load_model(resolve_model("demo-personaplex", cache_dir=str(tmp_path_factory.mktemp("home"))))


def test_user_voice_and_previews(demo_model, tmp_path, monkeypatch):
    from moshi_mlx.personas.stream import make_user_voice, voice_preview
    from moshi_mlx.personas.voices import VoiceError, load_voice

    monkeypatch.setenv("MOSHI_MLX_HOME", str(tmp_path))
    t = np.arange(3 * 48000) / 48000
    pcm = (0.1 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    path = make_user_voice(demo_model, "Mine", pcm, rate=48000)
    assert load_voice(path).frames == 38  # 3 s at 12.5 frames/s, the last one padded
    with pytest.raises(VoiceError, match="1-30 s"):
        make_user_voice(demo_model, "Short", pcm[:4800], rate=48000)
    decoded = voice_preview(demo_model, "Mine", seconds=1.0)  # codes: decoded as the model hears them
    assert decoded.shape == (12 * 1920,) and np.abs(decoded).max() > 0
    from moshi_mlx.personas.voices import Voice

    stored = Voice("nv", np.full((5, 8), -1), None, "embeddings only")
    stored.codes[-1], stored.codes[-2, 1:] = 1, 2
    emb = np.zeros((4, demo_model.lm.config.dim), np.float32)
    spoken = voice_preview(demo_model, Voice("nv", stored.codes, emb, "x"), seconds=1.0)
    assert spoken.shape == (12 * 1920,)  # the model spoke with the voice prompt
