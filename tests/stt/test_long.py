"""A long stream keeps memory flat: the LM's ring cache, the codec's state and the word timer are
bounded; nothing of the audio or the text is kept (demo STT model, its context is 16 frames)."""

import os

import numpy as np
import pytest


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
def test_memory_flat_over_2000_frames(demo_stt_home):
    import mlx.core as mx

    from moshi_mlx.engine.loader import load_model
    from moshi_mlx.hub import resolve_model
    from moshi_mlx.stt.events import TextPiece
    from moshi_mlx.stt.transcriber import Transcriber

    tr = Transcriber(load_model(resolve_model("demo-stt", cache_dir=str(demo_stt_home))))
    rng = np.random.default_rng(0)
    pieces, marks = 0, {}
    for i in range(2000):
        events = tr.push((0.1 * rng.standard_normal(1920)).astype(np.float32))
        pieces += sum(isinstance(e, TextPiece) for e in events)
        if i + 1 in (500, 2000):
            marks[i + 1] = (_rss_mb(), mx.get_active_memory() / 2**20)
    assert tr.frames == 2000 and pieces > 100
    (rss_a, mlx_a), (rss_b, mlx_b) = marks[500], marks[2000]
    print(f"RSS {rss_a:.0f} -> {rss_b:.0f} MB, MLX active {mlx_a:.1f} -> {mlx_b:.1f} MB")
    assert rss_b - rss_a < 15 and mlx_b - mlx_a < 1
