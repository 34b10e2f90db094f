"""Live transcription through the virtual PulseAudio loopback: what is played into the null sink
comes back on the default input (the microphone here). Demo STT model: random words."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from moshi_mlx.engine.events import ErrorEvent, LevelEvent, StateEvent, StatsEvent
from moshi_mlx.stt.events import TextPiece, Word
from moshi_mlx.stt.live import ListenOptions, LiveTranscription

pytestmark = pytest.mark.audio


def play(path):
    """Play a file into the virtual sink (the loopback microphone hears it)."""
    return subprocess.Popen(["paplay", str(path)], env=os.environ.copy())


def test_live_transcription_records_and_finishes(virtual_audio_device, demo_stt_home, speech_file, event_log,
                                                 tmp_path):
    engine = LiveTranscription(event_log)
    engine.start(ListenOptions(model="demo-stt", cache_dir=str(demo_stt_home), record_dir=str(tmp_path)))
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "running", 120), \
        event_log.events[-5:]
    player = play(speech_file)
    player.wait(30)
    time.sleep(2.0)
    engine.stop()
    assert not engine.running
    states = [e.state for e in event_log.of(StateEvent)]
    assert states == ["loading", "ready", "running", "stopping", "stopped"], states
    assert not [e for e in event_log.of(ErrorEvent) if e.fatal], event_log.of(ErrorEvent)
    levels = [e.input_db for e in event_log.of(LevelEvent)]
    assert max(levels) > -40, "the microphone never heard the speech"
    assert event_log.of(StatsEvent) and 0 < event_log.of(StatsEvent)[-1].real_time_factor < 1
    pieces = event_log.of(TextPiece)
    assert pieces and [p.time for p in pieces] == sorted(p.time for p in pieces)
    # stop() finished the stream: words were closed after "stopping"
    stopping = next(i for i, e in enumerate(event_log.events) if isinstance(e, StateEvent) and e.state == "stopping")
    assert any(isinstance(e, Word) for e in event_log.events[stopping:])
    paths = engine.recording_paths
    audio, rate = sf.read(paths["wav"])
    assert rate == 24000 and audio.ndim == 1
    assert abs(len(audio) - len(levels) * 1920) <= 1920 and np.abs(audio).max() > 0.01
    transcript = paths["transcript"].read_text()
    assert transcript.startswith("# Transcript") and "demo-stt" in transcript and "\n[00:00:" in transcript
    # the same engine runs a second session with the loaded model
    engine.start(ListenOptions(model="demo-stt", cache_dir=str(demo_stt_home)))
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "running"
                              and len(event_log.of(StateEvent)) > 5, 60)
    engine.stop()
    loads = [e for e in event_log.events if getattr(e, "job", "") == "load model"]
    assert len(loads) == 4, "the model must be loaded once"


def test_listen_cli_captions_and_crash_safe_recording(virtual_audio_device, demo_stt_home, speech_file, tmp_path):
    """Captions on stdout as they come; killed with SIGKILL, the recording stays readable."""
    proc = subprocess.Popen([sys.executable, "-m", "moshi_mlx", "listen", "--model", "demo-stt", "--cache-dir",
                             str(demo_stt_home), "--record", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        wavs = []
        while time.monotonic() < deadline and proc.poll() is None:
            wavs = list(tmp_path.glob("transcript-*.wav"))
            if wavs and wavs[0].stat().st_size > 44 + 24000 * 2:  # a second of audio recorded
                break
            time.sleep(0.1)
        assert wavs, proc.stderr.read() if proc.poll() is not None else "nothing recorded"
        play(speech_file).wait(30)
        time.sleep(1.0)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert "listening:" in err and "random" in err
    assert out.startswith("[00:00:0"), out
    audio, rate = sf.read(wavs[0])
    assert rate == 24000 and len(audio) > 24000
    assert tmp_path.joinpath(wavs[0].stem + ".txt").read_text().startswith("# Transcript")


def test_listen_refuses_and_reports(virtual_audio_device, demo_stt_home):
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "listen", "--model", "demo"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "`listen` needs a speech to text model" in r.stderr
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "listen", "--model", "demo-stt", "--cache-dir",
                        str(demo_stt_home), "--input-device", "no such mic"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "no such mic" in r.stderr and "Traceback" not in r.stderr
