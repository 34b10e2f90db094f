"""Live translation: chat's loop (ConversationEngine) with the Hibiki stream setup, through the
virtual PulseAudio loopback device, and the kind checks on both sides."""

import subprocess
import sys
import time

import pytest

from moshi_mlx.engine.conversation import ConversationEngine, EngineOptions
from moshi_mlx.engine.events import ErrorEvent, LevelEvent, StateEvent, StatsEvent, TextEvent
from tests.engine.conftest import EventLog

pytestmark = pytest.mark.audio


def _translate_options(home, **kw):
    return EngineOptions(model="demo-hibiki", cache_dir=str(home), seed=1, kinds=("hibiki",),
                         used_by="translate --live", **kw)


def test_live_translation_with_guidance(virtual_audio_device, hibiki_home, tmp_path):
    log = EventLog()
    engine = ConversationEngine(log)
    engine.start(_translate_options(hibiki_home, aec=False, kind_options={"cfg_coef": 3.0},
                                    record_dir=str(tmp_path)))
    assert log.wait_for(lambda e: isinstance(e, StatsEvent) and e.frames >= 40, 120), log.events[-5:]
    engine.stop()
    assert [e.state for e in log.of(StateEvent)][-2:] == ["stopping", "stopped"]
    assert not [e for e in log.of(ErrorEvent) if e.fatal], log.of(ErrorEvent)
    assert engine._session.core.gen.rows == 2, "guidance: conditioned and very_bad rows in one batch"
    assert len(log.of(TextEvent)) >= 5
    assert max(e.output_db for e in log.of(LevelEvent)) > -40, "the translation never came out"
    assert log.of(StatsEvent)[-1].real_time_factor < 1.0
    assert engine.recording_paths["wav"].stat().st_size > 40 * 1920 * 4


@pytest.mark.parametrize("model,kinds,expected", [
    ("demo-hibiki", None, "translate"),  # chat's default kinds refuse a translation model
    ("demo", ("hibiki",), "chat"),  # translate --live refuses a conversation model
])
def test_wrong_kind_is_an_error_event(virtual_audio_device, hibiki_home, demo_models, model, kinds, expected):
    demo_models.home(hibiki_home, "demo")
    log = EventLog()
    engine = ConversationEngine(log)
    extra = {"kinds": kinds, "used_by": "translate --live"} if kinds else {}
    engine.start(EngineOptions(model=model, cache_dir=str(hibiki_home), **extra))
    assert log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "stopped", 120)
    errors = log.of(ErrorEvent)
    assert errors and errors[0].kind == "model_kind" and f"python -m moshi_mlx {expected}" in errors[0].message
    assert "running" not in [e.state for e in log.of(StateEvent)]


def test_translate_live_command(virtual_audio_device, hibiki_home):
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "translate", "--live", "--model", "demo-hibiki",
                        "--cache-dir", str(hibiki_home), "--duration", "4", "--no-aec", "--seed", "2",
                        "--cfg-coef", "3"], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert "headphones" in r.stderr and "conversation started" in r.stderr and "random weights" in r.stderr
    assert r.stdout.strip(), "the translated text is printed as it comes"
    assert time.monotonic() - started < 120
