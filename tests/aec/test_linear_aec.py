"""The linear stage alone (moshi_mlx/engine/linear_aec.py)."""

from __future__ import annotations

import numpy as np
import pytest

from moshi_mlx.engine.linear_aec import DelayEstimator, LinearEchoCanceller
from tests.aec.signals import FRAME, RATE, ratio_db, room_echo


def run(canceller, near, far):
    return np.concatenate([canceller.process(near[i:i + FRAME], far[i:i + FRAME])
                           for i in range(0, len(near) - FRAME + 1, FRAME)])


def test_finds_the_delay_and_cancels_echo(speech):
    moshi, _ = speech
    far = np.concatenate([moshi, moshi])[:8 * RATE // FRAME * FRAME]
    near = room_echo(far, 0.3, -6.0)
    canceller = LinearEchoCanceller()
    out = run(canceller, near, far)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    delay = canceller.delay_estimator.delay
    assert delay is not None and abs(delay - int(0.3 * RATE)) <= int(0.03 * RATE)
    tail = slice(5 * RATE, len(out))  # converged
    erle = ratio_db(near[tail], out[tail])
    print(f"\nlinear stage alone: delay {delay / RATE * 1000:.0f} ms (true 300 ms), ERLE {erle:.1f} dB "
          f"after 5 s")
    assert erle >= 15.0


def test_double_talk_does_not_spoil_the_filter(speech):
    """Converge, then the user talks loudly over the echo: the output filter (foreground) must
    keep cancelling, and the user must come through untouched."""
    moshi, user = speech
    n = 10 * RATE // FRAME * FRAME
    far = np.resize(moshi, n)
    echo = room_echo(far, 0.1, -6.0)
    talk = np.zeros(n, np.float32)
    u0 = 6 * RATE
    talk[u0:u0 + 3 * RATE] = 3.0 * np.resize(user, 3 * RATE)
    canceller = LinearEchoCanceller()
    out = run(canceller, echo + talk, far)
    dt = slice(u0, u0 + 3 * RATE)
    residual = out[dt] - talk[dt]
    print(f"\nlinear stage, loud double talk: echo {ratio_db(echo[dt], residual):.1f} dB down, "
          f"user {ratio_db(out[dt], talk[dt]):+.2f} dB")
    assert ratio_db(echo[dt], residual) >= 10.0
    assert abs(ratio_db(out[dt], talk[dt])) <= 1.0


def test_silent_far_end_passes_near_through():
    near = (np.random.default_rng(0).standard_normal(3 * RATE) * 0.05).astype(np.float32)
    canceller = LinearEchoCanceller()
    out = run(canceller, near, np.zeros_like(near))
    np.testing.assert_array_equal(out, near[:len(out)])
    assert canceller.delay_estimator.delay is None


def test_clear_and_bad_blocks(speech):
    moshi, _ = speech
    far = moshi[:3 * RATE // FRAME * FRAME]
    canceller = LinearEchoCanceller()
    run(canceller, room_echo(far, 0.05, 0.0), far)
    assert canceller.delay_estimator.delay is not None
    canceller.clear()
    assert canceller.delay_estimator.delay is None and canceller.offset == 0
    assert not np.any(canceller._w_fg) and not np.any(canceller._w_bg)
    with pytest.raises(ValueError, match="blocks of 240"):
        canceller.process(np.zeros(100, np.float32), np.zeros(100, np.float32))


def test_delay_estimator_ignores_unrelated_signals():
    rng = np.random.default_rng(3)
    est = DelayEstimator(RATE, 0.6)
    for _ in range(30):
        est.push(rng.standard_normal(FRAME), rng.standard_normal(FRAME))
        est.update()
    assert est.delay is None


def drifting_echo(far: np.ndarray, delay_s: float, drift_per_s: float) -> np.ndarray:
    """far heard through a pure delay that grows by `drift_per_s` samples every second."""
    t = np.arange(len(far), dtype=np.float64)
    source = t - delay_s * RATE - drift_per_s * t / RATE
    return (0.5 * np.interp(source, t, far, left=0.0)).astype(np.float32)


@pytest.mark.parametrize("drift", [0.0, 20.0])
def test_stands_aside_while_the_echo_path_moves(speech, drift):
    """A still path: the stage's output is used once the path has proven still (~2 s after the
    filter first learns). A path drifting by 20 samples/s (the loopback device after an underrun)
    outruns the filter: the microphone signal passes through untouched for AEC3 alone."""
    moshi, _ = speech
    far = np.resize(moshi, 8 * RATE // FRAME * FRAME)
    near = drifting_echo(far, 0.1, drift)
    canceller = LinearEchoCanceller()
    used = []
    outs = []
    for i in range(0, len(near), FRAME):
        outs.append(canceller.process(near[i:i + FRAME], far[i:i + FRAME]))
        used.append(not canceller.bypassed)
        if canceller.bypassed:
            np.testing.assert_array_equal(outs[-1], near[i:i + FRAME])
    tail = slice(6 * RATE, len(near))
    if drift:
        assert not any(used[len(used) // 2:]), "a drifting path must not be cancelled by this stage"
    else:
        first = used.index(True)
        assert 2.0 <= first * FRAME / RATE <= 4.5, f"used from {first * FRAME / RATE:.2f} s"
        assert all(used[first:])
        assert ratio_db(near[tail], np.concatenate(outs)[tail]) >= 15.0
