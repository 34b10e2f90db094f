"""`moshi-quantize` on a TTS checkpoint (Kyutai's PyTorch folder form, 1.6B shape): 4 and 8 bits,
conditioners kept in float, the TTS metadata (model_type, tts_config, model_id) kept, --verify
under the model's conditions, and the converted folder speaks."""

import json
import subprocess
import sys

import mlx.core as mx
import pytest

from moshi_mlx.engine.loader import load_model
from moshi_mlx.hub import folder_files
from moshi_mlx.tts.synth import Synthesizer, TtsSettings
from moshi_mlx.tts.voices import load_voice_file

from .tiny import write_voice


@pytest.fixture(scope="module")
def source(speakers_folder):
    return speakers_folder[0]


@pytest.mark.parametrize("bits", [4, 8])
def test_convert_verify_and_speak(source, tmp_path, bits):
    out = tmp_path / f"tts-q{bits}"
    r = subprocess.run([sys.executable, "-m", "moshi_quantize", str(source), "-o", str(out), "--bits",
                        str(bits), "--verify"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "PASS" in r.stdout + r.stderr
    config = json.loads((out / "config.json").read_text())
    original = json.loads((source / "config.json").read_text())
    for key in ("model_type", "tts_config", "model_id", "conditioners", "fuser"):
        assert config[key] == original[key], key
    weights = mx.load(str(out / f"model.q{bits}.safetensors"))
    assert any(k.endswith(".scales") for k in weights)
    assert not any(k.startswith("condition_provider") and k.endswith(".scales") for k in weights)
    model = load_model(folder_files(out))
    voice = load_voice_file(write_voice(tmp_path / "v.safetensors"))
    synth = Synthesizer(model, [voice], TtsSettings(seed=1))
    synth.push_text("hello how are you")
    synth.end_of_text()
    frames = list(synth.frames())
    assert [w.text for f in frames for w in f.started] == ["hello", "how", "are", "you"]
