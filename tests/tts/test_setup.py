"""TTS builds its generator through its kind record, as every kind does (kinds/tts.py `setup`,
tts/setup.py): the conditions, CFG and codebooks are the setup's; bad options name the model."""

import pytest

from moshi_mlx.engine.core import Sampling
from moshi_mlx.engine.loader import load_model
from moshi_mlx.engine.setup import make_setup, setup_class
from moshi_mlx.errors import ConfigError, MoshiError
from moshi_mlx.hub import folder_files
from moshi_mlx.tts.setup import TtsSetup
from moshi_mlx.tts.synth import Synthesizer, TtsSettings
from moshi_mlx.tts.voices import load_voice_file

from .tiny import write_voice


@pytest.fixture(scope="module")
def model_and_voice(speakers_folder, tmp_path_factory):
    voice = load_voice_file(write_voice(tmp_path_factory.mktemp("voice") / "v.safetensors"))
    return load_model(folder_files(speakers_folder[0])), voice


def test_the_tts_record_names_its_setup():
    assert setup_class("tts") is TtsSetup


def test_the_synthesizer_generator_comes_from_the_kind_setup(model_and_voice):
    from moshi_mlx.engine import mlx_worker

    model, voice = model_and_voice
    synth = mlx_worker.submit(lambda: Synthesizer(model, [voice], TtsSettings(cfg=2.0, codebooks=3))).result()
    assert isinstance(synth.setup, TtsSetup)
    assert synth.gen.model is model.lm and synth.codebooks == synth.setup.codebooks == 3
    assert synth.gen.text_hook == synth._on_text  # the word state machine decides the text token


def test_setup_options_are_checked(model_and_voice):
    model, voice = model_and_voice
    with pytest.raises(ConfigError, match="options \\['voice'\\] do not apply to a tts model"):
        make_setup(model, Sampling(), {"voice": voice})
    with pytest.raises(ConfigError, match="codebooks 99: .* generates 1 to"):
        make_setup(model, Sampling(), {"voices": [voice], "codebooks": 99})
    with pytest.raises(MoshiError, match="needs a voice"):
        make_setup(model, Sampling(), {})
