"""Files transcribed by the live engine (what the app's Transcribe mode does): on the MLX worker
with the model the engine keeps, cancel, and the refusals; no audio device needed."""

import threading

import pytest

from moshi_mlx.errors import MoshiError
from moshi_mlx.kinds import ModelKindError
from moshi_mlx.stt.events import TextPiece, Word
from moshi_mlx.stt.files import TranscriptionCancelled
from moshi_mlx.stt.live import ListenOptions, LiveTranscription


def test_files_reuse_the_engines_model_and_can_be_cancelled(demo_stt_home, speech_file, event_log, tmp_path):
    engine = LiveTranscription(event_log)
    options = ListenOptions(model="demo-stt", cache_dir=str(demo_stt_home), used_by="the Transcribe mode")
    events, progress, started = [], [], threading.Event()
    result = engine.transcribe_file(options, speech_file, events.append, on_start=started.set,
                                    progress=lambda done, total, speed: progress.append((done, total))).result(120)
    assert started.is_set() and result.path == speech_file and result.frames > 0
    assert any(isinstance(e, Word) for e in events) and any(isinstance(e, TextPiece) for e in events)
    assert progress[-1][0] == pytest.approx(result.duration, abs=1e-3) and progress[-1][1] == pytest.approx(result.duration, abs=1e-3)
    loads = len([e for e in event_log.events if getattr(e, "job", "") == "load model"])
    assert loads > 0
    again = []
    engine.transcribe_file(options, speech_file, again.append).result(120)
    assert again == events  # a new stream each time (greedy: the same words)
    assert len([e for e in event_log.events if getattr(e, "job", "") == "load model"]) == loads, "loaded once"
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TranscriptionCancelled):
        engine.transcribe_file(options, speech_file, again.append, cancel=cancel).result(120)
    # a file that is not audio is refused at once, naming it; a model of another kind by the worker
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    with pytest.raises(MoshiError, match="notes.txt"):
        engine.transcribe_file(options, notes, again.append)
    wrong = ListenOptions(model="demo", cache_dir=str(demo_stt_home), used_by="the Transcribe mode")
    with pytest.raises(ModelKindError, match="the Transcribe mode needs a speech to text model"):
        engine.transcribe_file(wrong, speech_file, again.append).result(120)
