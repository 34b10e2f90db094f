"""Persona conversations through the live engine (virtual PulseAudio device), demo-personaplex:
a voice and role from EngineOptions.kind_options; a second conversation with the same persona
starts from the kept prompt state; a bad persona is an error and nothing starts."""

import pytest

from moshi_mlx.engine.conversation import ConversationEngine, EngineOptions
from moshi_mlx.engine.events import ErrorEvent, StateEvent, TextEvent

from .conftest import demo_options

pytestmark = pytest.mark.audio


def _run_until_text(engine, log, options, count=3):
    engine.start(options)
    assert log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "running", 120), log.events[-5:]
    assert log.wait_for(lambda e: len(log.of(TextEvent)) >= count, 30)
    engine.stop()


def test_persona_conversations(virtual_audio_device, persona_home, event_log):
    engine = ConversationEngine(event_log)
    options = demo_options(persona_home, voice="demo-low", role="You are a patient language tutor.")
    for _ in range(2):  # the model's warm-up ran the prompt: both conversations restore its state
        _run_until_text(engine, event_log, options)
        assert engine._session.core.setup.restored
    assert not [e for e in event_log.of(ErrorEvent) if e.fatal]


def test_bad_persona_starts_nothing(virtual_audio_device, persona_home, event_log):
    engine = ConversationEngine(event_log)
    engine.start(demo_options(persona_home, voice="nobody"))
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "stopped", 120)
    errors = [e for e in event_log.of(ErrorEvent) if e.fatal]
    assert errors and "unknown voice 'nobody'" in errors[0].message
    assert "running" not in [e.state for e in event_log.of(StateEvent)]
