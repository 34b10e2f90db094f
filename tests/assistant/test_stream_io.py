"""The assistant's network audio adapters (assistant/stream_io.py), without models: frames out of
pushed audio, commits in order with the audio, clear, silence when the client sends nothing, the
commit-aware turn detector, and the paced sink."""

import time

import numpy as np

from moshi_mlx import FRAME_SIZE
from moshi_mlx.assistant.stream_io import StreamSink, StreamSource, StreamTurns


def test_frames_commits_and_clear():
    src = StreamSource()
    src.detector = StreamTurns(has_heads=False)
    src.push(np.ones(FRAME_SIZE + 100, np.float32))  # one frame and a partial one
    src.commit()  # the partial frame is padded and comes before the commit
    first, second = src.read(), src.read()
    assert first.shape == second.shape == (FRAME_SIZE,)
    assert second[:100].all() and not second[100:].any()
    assert src.detector.commits == 0
    t = time.perf_counter()
    silence = src.read()  # the commit is counted, then 80 ms of silence (nothing was sent)
    assert src.detector.commits == 1 and not silence.any() and time.perf_counter() - t >= 0.05
    src.push(np.ones(FRAME_SIZE * 3, np.float32))
    src.commit()
    src.clear()  # unheard audio goes, the commit stays
    assert not src.read().any() and src.detector.commits == 2
    src.close()
    assert src.read() is None


def test_commit_ends_the_turn_when_not_speaking_and_vad_off_is_silent():
    d = StreamTurns(has_heads=False, silence_timeout_s=0.16)
    d.server_vad = False
    d.commits = 1
    assert d.frame(None, 0, speaking=True) is None  # held while the assistant speaks
    assert d.frame(None, 0) == "end_of_turn" and d.commits == 0
    for _ in range(20):  # without server VAD nothing else ends a turn, nothing barges in
        assert d.frame(None, 1, speaking=True) is None
        assert d.frame(None, 0) is None


def test_paced_sink_stays_at_most_what_was_written_ahead():
    frames = []
    sink = StreamSink(frames.append, paced=True)
    assert sink.queued_s == 0.0
    for _ in range(4):
        sink.write(np.zeros(FRAME_SIZE, np.float32))
    assert 0.25 < sink.queued_s <= 0.32 and len(frames) == 4
    sink.clear()
    assert sink.queued_s == 0.0
    assert StreamSink(frames.append).queued_s == 0.0  # not paced: always room
