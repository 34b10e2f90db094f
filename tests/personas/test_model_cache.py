"""A bad persona costs no loaded model: the engine's ModelCache warms the model up with the kind's
defaults, keeps it, then raises the persona's error (kind 'persona'); the next start with a good
persona reuses it. `ConversationEngine.run_on_model` (the app's previews, voices from recordings,
sharing) loads through the same cache."""

import pytest

from moshi_mlx.engine.conversation import ConversationEngine, ModelCache, error_event
from moshi_mlx.engine.events import ProgressEvent
from moshi_mlx.errors import PersonaError
from moshi_mlx.personas.prompt import PromptError
from moshi_mlx.personas.voices import VoiceError
from tests.engine.conftest import EventLog

from .conftest import demo_options


def _loads(log):
    return [e for e in log.of(ProgressEvent) if e.job == "load model" and e.done == 0]  # starts


@pytest.mark.parametrize("bad, error", [
    ({"voice": "nobody"}, VoiceError),
    ({"voice": "demo-low", "role": "You are a very talkative pirate. " * 40}, PromptError),
])
def test_a_bad_persona_keeps_the_loaded_model(persona_home, bad, error):
    log, cache = EventLog(), ModelCache()
    with pytest.raises(error) as caught:
        cache.get(demo_options(persona_home, **bad), log, None)
    assert isinstance(caught.value, PersonaError)
    assert error_event(caught.value, "demo-personaplex").kind == "persona"
    model = cache.model
    assert model is not None and cache.key == ("demo-personaplex", "mlx", str(persona_home))
    assert len(_loads(log)) == 1  # loaded once, and warmed up all the same
    assert [e.done for e in log.of(ProgressEvent) if e.job == "warm-up"] == [1, 2, 3]
    good = demo_options(persona_home, voice="demo-mid", role="You are a storyteller.")
    assert cache.get(good, log, None) is model
    assert len(_loads(log)) == 1  # no reload


def test_run_on_model_loads_once_through_the_engine_cache(persona_home):
    log = EventLog()
    engine = ConversationEngine(log)
    options = demo_options(persona_home, voice="demo-high")
    first = engine.run_on_model(options, lambda model: model).result(120)
    assert first.kind == "personaplex" and len(_loads(log)) == 1
    frames = engine.run_on_model(options, lambda model: model.codec.frame_size).result(60)
    assert frames == first.codec.frame_size and len(_loads(log)) == 1
    assert engine._models.model is first
