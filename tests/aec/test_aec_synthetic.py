"""EchoCanceller without an audio device: a synthetic room echo (delayed, filtered far signal)
plus a user's utterance plus noise."""

from __future__ import annotations

import numpy as np
import pytest

from moshi_mlx.engine.aec import DELAY_MARGIN_MS, EchoCanceller, is_builtin_device
from moshi_mlx.errors import ConfigError
from tests.aec.signals import FRAME, RATE, ratio_db, room_echo, run_canceller


class Scene:
    """Moshi speaks from 0.5 s, the user starts 1.5 s before Moshi ends (double talk) and goes on
    alone. Segments are in samples of the microphone timeline."""

    def __init__(self, speech, delay_s=0.12, gain_db=-6.0, noise_db=-70.0):
        moshi, user = speech
        m0 = int(0.5 * RATE)
        u0 = m0 + len(moshi) - int(1.5 * RATE)
        n = (u0 + len(user) + int(0.5 * RATE)) // FRAME * FRAME
        self.far = np.zeros(n, np.float32)
        self.far[m0:m0 + len(moshi)] = moshi
        self.user = np.zeros(n, np.float32)
        self.user[u0:u0 + len(user)] = user
        self.echo = room_echo(self.far, delay_s, gain_db)
        noise = np.random.default_rng(1).standard_normal(n) * 10 ** (noise_db / 20)
        self.near = (self.echo + self.user + noise).astype(np.float32)
        echo_end = m0 + len(moshi) + int((delay_s + 0.15) * RATE)
        self.echo_only = slice(m0 + int(delay_s * RATE), u0)
        self.double_talk = slice(u0, m0 + len(moshi))
        self.user_only = slice(echo_end, u0 + len(user))

    def measure(self, out: np.ndarray) -> dict[str, float]:
        near = self.near[:len(out)]
        return {
            "erle_db": ratio_db(near[self.echo_only], out[self.echo_only]),
            "user_only_db": ratio_db(out[self.user_only], self.user[self.user_only]),
            "double_talk_db": ratio_db(out[self.double_talk], self.user[self.double_talk]),
        }


def test_cancels_room_echo_and_keeps_the_user(speech):
    scene = Scene(speech)
    canceller = EchoCanceller()
    canceller.set_delay_ms(40.0)
    out = run_canceller(canceller, scene.near, scene.far)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    m = scene.measure(out)
    print(f"\nsynthetic room echo (120 ms, -6 dB): ERLE {m['erle_db']:.1f} dB, user-only "
          f"{m['user_only_db']:+.2f} dB, double talk {m['double_talk_db']:+.2f} dB (vs clean user), "
          f"CPU {canceller.cpu_ms_per_frame:.2f} ms/frame")
    assert m["erle_db"] >= 20.0
    assert abs(m["user_only_db"]) <= 3.0
    # While both talk, the user keeps their energy (AEC3 alone ducks them: printed below).
    assert abs(m["double_talk_db"]) <= 3.0
    alone = scene.measure(run_canceller(EchoCanceller(linear_stage=False), scene.near, scene.far))
    print(f"  AEC3 alone (linear_stage=False): ERLE {alone['erle_db']:.1f} dB, user-only "
          f"{alone['user_only_db']:+.2f} dB, double talk {alone['double_talk_db']:+.2f} dB")
    passthrough = scene.measure(scene.near[:len(out)])
    assert passthrough["erle_db"] == pytest.approx(0.0)


def test_without_a_far_reference_the_echo_stays(speech):
    scene = Scene(speech)
    out = run_canceller(EchoCanceller(), scene.near, np.zeros_like(scene.far))
    assert scene.measure(out)["erle_db"] < 6.0


def test_long_device_latency_needs_set_delay(speech):
    """AEC3 alone finds delays up to ~0.5 s; set_delay_ms pre-delays the reference for more."""
    scene = Scene(speech, delay_s=0.8)
    blind = scene.measure(run_canceller(EchoCanceller(), scene.near, scene.far))["erle_db"]
    told = {}
    for reported_ms in (800.0, 800.0 + 180.0, 800.0 - 250.0):  # exact, too high, too low
        canceller = EchoCanceller()
        canceller.set_delay_ms(reported_ms)
        told[reported_ms] = scene.measure(run_canceller(canceller, scene.near, scene.far))["erle_db"]
    print(f"\n800 ms echo: ERLE {blind:.1f} dB without a delay, "
          + ", ".join(f"{v:.1f} dB told {k:.0f} ms" for k, v in told.items()))
    assert blind < 10.0
    assert all(v >= 20.0 for v in told.values())


def test_jittery_delay_reports_do_not_break_cancellation(speech):
    """The engine re-reports the latency every second, queued output included (0-160 ms)."""
    scene = Scene(speech, delay_s=0.45)
    rng = np.random.default_rng(0)
    canceller = EchoCanceller()
    out = []
    for k, i in enumerate(range(0, len(scene.near) - FRAME + 1, FRAME)):
        if k % 12 == 0:
            canceller.set_delay_ms(450.0 + rng.uniform(0.0, 160.0))
        out.append(canceller.process(scene.near[i:i + FRAME], scene.far[i:i + FRAME]))
    assert scene.measure(np.concatenate(out))["erle_db"] >= 20.0


def test_soxr_path_at_48k(speech):
    scene = Scene(speech)
    canceller = EchoCanceller(apm_rate=48000)
    out = run_canceller(canceller, scene.near, scene.far)
    assert len(out) == len(scene.near) and np.isfinite(out).all()
    m = scene.measure(out)
    print(f"\nsoxr 24<->48 kHz: ERLE {m['erle_db']:.1f} dB, user-only {m['user_only_db']:+.2f} dB")
    assert m["erle_db"] >= 20.0 and abs(m["user_only_db"]) <= 3.0


def test_noise_suppression_option(speech):
    noise = (np.random.default_rng(2).standard_normal(3 * RATE) * 0.01).astype(np.float32)
    silent = np.zeros_like(noise)
    plain = run_canceller(EchoCanceller(), noise, silent)
    suppressed = run_canceller(EchoCanceller(noise_suppression=True), noise, silent)
    tail = slice(RATE, None)  # once the suppressor has learnt the noise
    assert ratio_db(suppressed[tail], plain[tail]) < -3.0  # measured -5.7 dB on white noise
    scene = Scene(speech)
    assert scene.measure(run_canceller(EchoCanceller(noise_suppression=True), scene.near,
                                       scene.far))["erle_db"] >= 20.0


def test_non_finite_input_does_not_poison_the_filter(speech):
    scene = Scene(speech)
    near, far = scene.near.copy(), scene.far.copy()
    near[FRAME * 3:FRAME * 4] = np.nan
    far[FRAME * 5 + 7] = np.inf
    out = run_canceller(EchoCanceller(), near, far)
    assert np.isfinite(out).all()
    assert scene.measure(out)["erle_db"] >= 20.0


def test_reset_and_stats(speech):
    scene = Scene(speech)
    canceller = EchoCanceller()
    assert canceller.cpu_ms_per_frame == 0.0
    run_canceller(canceller, scene.near[:FRAME * 10], scene.far[:FRAME * 10])
    assert canceller.frames == 10 and canceller.cpu_ms_per_frame > 0.0
    canceller.set_delay_ms(500.0)
    canceller.reset()
    assert canceller.frames == 0 and canceller.cpu_ms_per_frame == 0.0
    assert canceller.delay_ms == 500.0
    canceller.set_delay_ms(40.0)
    out = run_canceller(canceller, scene.near, scene.far)
    assert scene.measure(out)["erle_db"] >= 20.0


def test_set_delay_pre_delays_the_reference():
    canceller = EchoCanceller()
    canceller.set_delay_ms(50.0)
    assert canceller.pre_delay_ms == 0.0 and canceller._apm.stream_delay_ms == 0
    canceller.set_delay_ms(DELAY_MARGIN_MS + 300.0)
    assert canceller.pre_delay_ms == pytest.approx(300.0)
    assert canceller._apm.stream_delay_ms == 0  # a too high hint hurts AEC3: see set_delay_ms
    canceller.set_delay_ms(DELAY_MARGIN_MS + 380.0)  # jitter below the hysteresis: no jump
    assert canceller.pre_delay_ms == pytest.approx(300.0)
    assert canceller.delay_ms == DELAY_MARGIN_MS + 380.0
    canceller.set_delay_ms(DELAY_MARGIN_MS + 450.0)
    assert canceller.pre_delay_ms == pytest.approx(450.0)
    canceller.set_delay_ms(DELAY_MARGIN_MS + 20.0)
    assert canceller.pre_delay_ms == pytest.approx(20.0)
    for jitter_ms in (0.0, DELAY_MARGIN_MS + 60.0):  # no toggling around the margin
        canceller.set_delay_ms(jitter_ms)
        assert canceller.pre_delay_ms == pytest.approx(20.0)
    canceller.set_delay_ms(10_000.0)  # capped by max_delay_ms
    assert canceller.pre_delay_ms == pytest.approx(2000.0)
    with pytest.raises(ValueError, match="delay"):
        canceller.set_delay_ms(float("nan"))
    with pytest.raises(ValueError, match="delay"):
        canceller.set_delay_ms(-1.0)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="frame_size"):
        EchoCanceller(frame_size=1000)
    with pytest.raises(ConfigError, match="sample_rate"):
        EchoCanceller(sample_rate=22050)
    with pytest.raises(ConfigError, match="apm_rate"):
        EchoCanceller(apm_rate=44100)
    with pytest.raises(ConfigError, match="max_delay_ms"):
        EchoCanceller(max_delay_ms=-1.0)
    canceller = EchoCanceller()
    with pytest.raises(ValueError, match="far must have shape"):
        canceller.process(np.zeros(FRAME, np.float32), np.zeros(FRAME - 1, np.float32))


@pytest.mark.parametrize("name, builtin", [
    ("MacBook Pro Microphone", True), ("MacBook Air Speakers", True), ("Built-in Output", True),
    ("Built-in Microphone", True), ("iMac Speakers", True), ("Mac mini Speakers", True),
    ("Internal Speakers", True), ("External Headphones", False), ("AirPods Pro", False),
    ("USB Audio Device", False), ("BlackHole 2ch", False), ("LG HDR 4K (HDMI)", False),
    ("Jabra Speak 510 USB", False), ("pulse", False), ("default", False),
    ("ZoomAudioDevice", False), ("Scarlett 2i2", False),
])
def test_is_builtin_device(name, builtin):
    assert is_builtin_device(name) is builtin


def test_cpu_time_per_frame(speech):
    """Benchmark line: CPU time of one 80 ms frame (AEC3 on, noise suppression off and on)."""
    scene = Scene(speech)
    for ns in (False, True):
        canceller = EchoCanceller(noise_suppression=ns)
        for _ in range(3):
            run_canceller(canceller, scene.near, scene.far)
        print(f"\nAEC CPU time: {canceller.cpu_ms_per_frame:.2f} ms per 80 ms frame "
              f"(noise suppression {'on' if ns else 'off'}, {canceller.frames} frames)")
        assert canceller.cpu_ms_per_frame < 10.0
