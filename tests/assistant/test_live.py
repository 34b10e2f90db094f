"""The live path on the loopback virtual sound card (tests/support/virtual_audio.py): microphone and
speaker open, the STT hears every frame while a typed turn is answered aloud, the History recording
holds both channels, stop() ends it cleanly. (Demo models: what the STT hears is random words.)"""

import soundfile as sf

from moshi_mlx.assistant.events import AssistantReply, PhaseEvent, TurnStats, UserTurn
from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.engine.events import ErrorEvent, StateEvent


def test_live_session_listens_speaks_and_stops(virtual_audio_device, home, scripted, events, tmp_path):
    scripted(["Hello from the speaker."] * 20)
    a = Assistant(events)
    a.start(AssistantOptions(stt="demo-stt", tts="demo-tts", seed=1, aec=False, record_dir=str(tmp_path)))
    assert events.wait_for(lambda ev: any(isinstance(e, StateEvent) and e.state == "running" for e in ev))
    a.send_text("hi")
    assert events.wait_for(lambda ev: ev.of(TurnStats), timeout=120)
    a.stop()
    assert events.stopped.is_set() and not a.running
    assert not [e for e in events.of(ErrorEvent) if e.fatal], events.of(ErrorEvent)
    running = next(e for e in events.of(StateEvent) if e.state == "running")
    assert "microphone" in running.detail and "speaker" in running.detail
    assert events.of(UserTurn)[0].text == "hi" and events.of(AssistantReply)
    assert "listening" in [p.phase for p in events.of(PhaseEvent)]
    info = sf.info(a.recording_paths["wav"])
    assert info.channels == 2 and info.frames > 0
