"""Live conversations with the demo model through the virtual PulseAudio loopback device."""

import os
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf

from moshi_mlx.engine.conversation import ConversationEngine, EngineOptions
from moshi_mlx.engine.events import (ErrorEvent, LevelEvent, ProgressEvent, StateEvent, StatsEvent,
                                     TextEvent)

pytestmark = pytest.mark.audio


def _options(demo_home, **kw):
    return EngineOptions(model="demo", cache_dir=str(demo_home), seed=1, **kw)


def _states(log):
    return [e.state for e in log.of(StateEvent)]


def test_live_chat_demo_runs_and_stops_cleanly(virtual_audio_device, demo_home, event_log, tmp_path):
    engine = ConversationEngine(event_log)
    engine.start(_options(demo_home, record_dir=str(tmp_path / "rec"), aec=False))
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "running", 120), \
        f"engine never ran: {event_log.events[-5:]}"
    started = time.monotonic()
    # about one StatsEvent a second: wait for the ninth rather than sleeping a fixed 12 s
    assert event_log.wait_for(lambda e: len(event_log.of(StatsEvent)) >= 9, 60), event_log.events[-5:]
    engine.stop()
    assert not engine.running
    assert _states(event_log)[-2:] == ["stopping", "stopped"]
    assert not [e for e in event_log.of(ErrorEvent) if e.fatal], event_log.of(ErrorEvent)

    stats = event_log.of(StatsEvent)
    assert len(stats) >= 8, f"expected about one StatsEvent a second, got {len(stats)}"
    last = stats[-1]
    elapsed = time.monotonic() - started
    # Frames flow at the device's pace: ~12.5 per second once the loopback delivers (~1.5 s).
    assert 12.5 * (elapsed - 4.0) <= last.frames <= 12.5 * elapsed + 5, (last.frames, elapsed)
    assert 0 < last.real_time_factor < 1.0, last
    assert 0 < last.latency_ms < 2000, last
    assert last.step_ms > 0
    assert last.dropped_frames <= 10 and last.underruns <= 25, last  # of ~300 blocks
    assert last.aec_ms == 0.0

    levels = event_log.of(LevelEvent)
    assert len(levels) == last.frames or len(levels) >= last.frames
    assert max(l.output_db for l in levels) > -40, "Moshi's audio never came out"
    # the loopback returns what was played: the mic hears the demo's noise
    assert max(l.input_db for l in levels) > -60, "nothing came back from the loopback input"

    texts = event_log.of(TextEvent)
    assert len(texts) >= 10 and all(t.text for t in texts)
    assert all(t.conversation == texts[0].conversation for t in texts)
    assert [t.time_s for t in texts] == sorted(t.time_s for t in texts)

    paths = engine.recording_paths
    wav, rate = sf.read(paths["wav"])
    assert rate == 24000 and wav.ndim == 2 and wav.shape[1] == 2
    assert abs(len(wav) - levels.__len__() * 1920) <= 1920
    assert np.abs(wav[:, 1]).max() > 0.01 and np.abs(wav[:, 0]).max() > 0.001
    transcript = paths["transcript"].read_text()
    assert transcript.startswith("# Moshi conversation") and "[00:00:" in transcript


def test_second_conversation_reuses_model_and_starts_clean(virtual_audio_device, demo_home, event_log):
    engine = ConversationEngine(event_log)
    for conversation in (1, 2):
        engine.start(_options(demo_home, aec=False))
        assert event_log.wait_for(lambda e: isinstance(e, TextEvent) and e.conversation == conversation,
                                  120), event_log.events[-5:]
        engine.stop()
        assert _states(event_log)[-1] == "stopped"
    loads = [e for e in event_log.of(ProgressEvent) if e.job == "load model"]
    assert len(loads) == 4, "the model must be loaded once (0..3 progress), not per conversation"
    second = [t for t in event_log.of(TextEvent) if t.conversation == 2]
    assert second[0].time_s < 2.0, "conversation time must restart at 0"
    with pytest.raises(RuntimeError):  # start while running is refused
        engine.start(_options(demo_home, aec=False))
        engine.start(_options(demo_home, aec=False))
    engine.stop()
    engine.stop()  # idempotent
    assert not engine.running


def test_falling_behind_drops_frames_instead_of_growing_latency(virtual_audio_device, demo_home,
                                                                event_log, monkeypatch):
    from moshi_mlx.engine import core

    real_step = core.FrameEngine.step

    def slow_step(self, pcm):
        time.sleep(0.16)  # two frames' worth: the engine cannot keep up
        return real_step(self, pcm)

    monkeypatch.setattr(core.FrameEngine, "step", slow_step)
    engine = ConversationEngine(event_log)
    engine.start(_options(demo_home, aec=False, max_lag_frames=2))
    assert event_log.wait_for(lambda e: isinstance(e, StatsEvent) and e.frames >= 25, 120)
    # instead of a fixed 4 s: until the statistics show the drops (at most 30 s)
    assert event_log.wait_for(lambda e: isinstance(e, StatsEvent) and e.dropped_frames > 10
                              and e.real_time_factor > 1.5, 30), event_log.of(StatsEvent)[-3:]
    engine.stop()
    last = event_log.of(StatsEvent)[-1]
    assert last.real_time_factor > 1.5
    assert last.dropped_frames > 10, last
    # bounded: max_lag_frames of input + the frame in flight + device buffers
    assert last.latency_ms < 80 * (2 + 4) + 1000, last


@pytest.mark.parametrize("stream", [0, 1], ids=["input", "output"])
def test_device_lost_stops_and_keeps_recording(virtual_audio_device, demo_home, event_log, tmp_path,
                                               stream):
    engine = ConversationEngine(event_log)
    engine.start(_options(demo_home, aec=False, record_dir=str(tmp_path)))
    assert event_log.wait_for(lambda e: isinstance(e, StatsEvent) and e.frames >= 12, 120)
    # What PortAudio does when a device disappears: the stream stops calling back.
    engine._session.audio._streams[stream].abort()
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "stopped", 15)
    lost = [e for e in event_log.of(ErrorEvent) if e.kind == "device_lost"]
    assert lost and lost[0].fatal and "recording kept" in lost[0].message
    engine.stop()
    wav, _ = sf.read(engine.recording_paths["wav"])
    assert len(wav) >= 12 * 1920


def test_silent_microphone_warns_about_permission(virtual_audio_device, demo_home, event_log):
    env = dict(os.environ)
    subprocess.run(["pactl", "set-source-mute", virtual_audio_device.source, "1"], env=env, check=True)
    try:
        engine = ConversationEngine(event_log)
        engine.start(_options(demo_home, aec=False))
        ok = event_log.wait_for(lambda e: isinstance(e, ErrorEvent) and e.kind == "mic_permission", 60)
        engine.stop()
    finally:
        subprocess.run(["pactl", "set-source-mute", virtual_audio_device.source, "0"], env=env)
    assert ok, event_log.events[-5:]
    warn = event_log.of(ErrorEvent)[0]
    assert not warn.fatal and "Privacy & Security > Microphone" in warn.message


def test_missing_input_device_is_an_error_event(virtual_audio_device, demo_home, event_log):
    engine = ConversationEngine(event_log)
    engine.start(_options(demo_home, input_device="no such microphone 1234"))
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "stopped", 120)
    errors = event_log.of(ErrorEvent)
    assert errors and errors[0].kind == "no_input_device" and "no such microphone 1234" in errors[0].message
    assert not event_log.of(ProgressEvent), "the devices must be checked before the model is loaded"


def test_live_chat_with_echo_cancellation(virtual_audio_device, demo_home, event_log):
    engine = ConversationEngine(event_log)
    engine.start(_options(demo_home, aec=True))
    assert event_log.wait_for(lambda e: isinstance(e, StatsEvent) and e.frames >= 30, 120), \
        event_log.events[-5:]
    engine.stop()
    running = [e for e in event_log.of(StateEvent) if e.state == "running"][0]
    assert "echo cancellation on" in running.detail
    stats = event_log.of(StatsEvent)[-1]
    assert 0 < stats.aec_ms < 80 and stats.real_time_factor < 1.0


def test_devices_opened_at_another_rate_are_resampled(virtual_audio_device, demo_home, event_log,
                                                      monkeypatch):
    """A device without 24 kHz: 48 kHz streams, soxr both ways, stereo input mixed down."""
    from moshi_mlx.engine import live

    monkeypatch.setattr(live, "pick_samplerate", lambda device, kind, channels: 48000)
    engine = ConversationEngine(event_log)
    engine.start(_options(demo_home, aec=False))
    assert event_log.wait_for(lambda e: isinstance(e, StatsEvent) and e.frames >= 40, 120), \
        event_log.events[-5:]
    audio = engine._session.audio
    assert audio.in_rate == audio.out_rate == 48000 and audio.in_channels == 2
    engine.stop()
    levels = event_log.of(LevelEvent)
    assert max(l.output_db for l in levels) > -40 and max(l.input_db for l in levels) > -60
    last = event_log.of(StatsEvent)[-1]
    assert 12.5 * 2.5 <= last.frames and last.real_time_factor < 1.0


def test_chat_list_devices(virtual_audio_device):
    import sys

    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "chat", "--list-devices"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "default" in r.stdout or "pulse" in r.stdout
    assert "< default input" in r.stdout


def test_device_list_and_lookup(virtual_audio_device):
    from moshi_mlx.engine.devices import find_device, list_devices, pick_samplerate

    devices = list_devices(refresh=True)
    assert any(d.is_default_input for d in devices) and any(d.is_default_output for d in devices)
    default_in = find_device(None, "input")
    assert default_in.is_default_input and default_in.max_input_channels > 0
    assert find_device(default_in.index, "input") == default_in
    assert find_device(str(default_in.index), "input") == default_in
    assert pick_samplerate(default_in, "input", 1) == 24000
    from moshi_mlx.errors import AudioDeviceError

    with pytest.raises(AudioDeviceError, match="9999"):
        find_device(9999, "output")
