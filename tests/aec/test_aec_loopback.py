"""Echo cancellation through the virtual PulseAudio loopback device: Moshi's voice (espeak-ng) is
played through a 24 kHz duplex stream with 1920-sample blocks and comes back on the input, delayed
by the real device path.

The user's utterance is mixed into the captured signal digitally, not played through a second sink
input: the null sink's monitor would return it mixed in at an unknown delay and level, while the
3 dB check needs the clean utterance exactly aligned with what the canceller outputs; and a
second stream is not part of what the canceller sees anyway (it only gets mic + reference).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from moshi_mlx.engine.aec import EchoCanceller
from moshi_mlx.engine.linear_aec import _STILL_SAMPLES
from tests.aec.signals import (FRAME, RATE, delay_track, estimate_delay, ratio_db, room_echo,
                               run_canceller)

pytestmark = [pytest.mark.audio, pytest.mark.slow]

LEAD_S = 2.0  # silence first: the loopback delivers data after ~1-1.5 s
DOUBLE_TALK_S = 1.5
ATTEMPTS = 5


def is_still(lags: list[int]) -> bool:
    """The echo delay stayed within the linear stage's own tolerance over the whole recording (a
    path drifting a few samples would pass a looser check, yet keep the stage aside: seen in CI,
    double talk -5.5 dB on a path judged still at a 1 ms tolerance)."""
    return bool(lags) and max(lags) - min(lags) <= _STILL_SAMPLES


def play_and_record(play: np.ndarray, extra_s: float = 1.5):
    """Play `play` through the default duplex device; return (what the input captured, aligned
    block by block with what was played, (input latency, output latency) in s, status count)."""
    import sounddevice as sd

    blocks = len(play) // FRAME + int(extra_s * RATE) // FRAME
    out_blocks = np.zeros((blocks, FRAME), np.float32)
    out_blocks.reshape(-1)[:len(play)] = play
    rec = np.zeros((blocks, FRAME), np.float32)
    done = threading.Event()
    state = {"i": 0, "status": 0}

    def callback(indata, outdata, frames, time_info, status):
        i = state["i"]
        if status:
            state["status"] += 1
        if i < blocks and frames == FRAME:
            outdata[:, 0] = out_blocks[i]
            rec[i] = indata[:, 0]
        else:
            outdata.fill(0.0)
        state["i"] = i + 1
        if i + 1 >= blocks:
            done.set()

    with sd.Stream(samplerate=RATE, blocksize=FRAME, channels=1, dtype="float32",
                   callback=callback) as stream:
        latency = tuple(stream.latency)
        assert done.wait(timeout=len(out_blocks) * FRAME / RATE + 20), "loopback stream stalled"
    return rec.reshape(-1), out_blocks.reshape(-1), latency, state["status"]


def cancel_and_measure(echo, played, user, u0, echo_only, reported_ms):
    """Mix the user in, cancel with the reported latency; ERLE and user energy changes (dB)."""
    clean_user = np.zeros_like(echo)
    clean_user[u0:u0 + len(user)] = user
    near = echo + clean_user
    canceller = EchoCanceller()
    canceller.set_delay_ms(reported_ms)
    out = run_canceller(canceller, near, played)
    assert np.isfinite(out).all()
    no_reference = run_canceller(EchoCanceller(), near, np.zeros_like(played))
    echo_end = u0 + int(DOUBLE_TALK_S * RATE)
    double_talk = slice(u0, echo_end)
    user_only = slice(echo_end + int(0.2 * RATE), u0 + len(user))
    return {
        "erle": ratio_db(near[echo_only], out[echo_only]),
        "user_only": ratio_db(out[user_only], clean_user[user_only]),
        "double_talk": ratio_db(out[double_talk], clean_user[double_talk]),
        "erle_no_reference": ratio_db(near[echo_only], no_reference[echo_only]),
        "cpu_ms": canceller.cpu_ms_per_frame,
        "frames": canceller.frames,
    }


def test_echo_cancelled_through_loopback_device(virtual_audio_device, speech):
    moshi, user = speech
    m0 = int(LEAD_S * RATE)
    play = np.zeros(m0 + len(moshi), np.float32)
    play[m0:] = moshi
    still = False
    for attempt in range(ATTEMPTS):
        captured, played, latency, statuses = play_and_record(play, extra_s=len(user) / RATE)
        # Re-record when the device misbehaved: NaN garbage after an underrun (seen once), or an
        # echo path that moved while recording (after the stream's start-up underrun the loopback
        # sometimes drifts by ~20 samples/s for seconds); the scene needs a still path.
        if not np.isfinite(captured).all():
            print(f"\nattempt {attempt + 1}: the loopback device returned NaN/inf")
            continue
        lags = delay_track(captured, played, m0, m0 + len(moshi))
        still = is_still(lags)
        if still:
            break
        print(f"\nattempt {attempt + 1}: the echo path moved while recording: {lags}")
    assert np.isfinite(captured).all(), f"the loopback device returned NaN/inf {ATTEMPTS} times"
    assert np.max(np.abs(captured)) > 0.01, "nothing came back from the loopback device"

    delay = estimate_delay(captured, played, max_lag=RATE)
    reported_ms = 1000 * sum(latency)
    u0 = m0 + delay + len(moshi) - int(DOUBLE_TALK_S * RATE)
    assert u0 + len(user) <= len(captured)
    echo_only = slice(m0 + delay, u0)
    # AEC off: the microphone signal goes on as is, and Moshi is in it.
    echo_level_db = ratio_db(captured[echo_only], played[m0:u0 - delay])
    print(f"\nloopback device ({'still' if still else 'moving'} echo path, delay range "
          f"{max(lags) - min(lags) if lags else '-'} samples): reported latency in {latency[0] * 1000:.0f} + out "
          f"{latency[1] * 1000:.0f} = {reported_ms:.0f} ms, measured echo delay "
          f"{delay / RATE * 1000:.0f} ms (cross-correlation), {statuses} callback status flags; "
          f"echo-only {(u0 - m0 - delay) / RATE:.1f} s, double talk {DOUBLE_TALK_S} s"
          f"\n  AEC off: echo level {echo_level_db:+.1f} dB vs what was played (ERLE 0 dB)")
    assert echo_level_db > -6.0, "AEC off: the echo must be there"
    # As captured (the loopback is a pure delay), then through a simulated room (the capture
    # filtered by a room response at -6 dB): the device supplies the real delay either way.
    for name, echo in (("device", captured), ("device + room", room_echo(captured, 0.0, -6.0))):
        m = cancel_and_measure(echo, played, user, u0, echo_only, reported_ms)
        print(f"  AEC on, {name}: ERLE {m['erle']:.1f} dB on echo-only; user {m['user_only']:+.2f} dB "
              f"on user-only, {m['double_talk']:+.2f} dB on double talk (vs the clean utterance); "
              f"with a silent reference ERLE {m['erle_no_reference']:.1f} dB; "
              f"CPU {m['cpu_ms']:.2f} ms per 80 ms frame ({m['frames']} frames)")
        assert m["erle_no_reference"] < 6.0
        assert m["erle"] >= 20.0
        assert abs(m["user_only"]) <= 3.0
        if still:
            assert abs(m["double_talk"]) <= 3.0
        else:
            # Every attempt drifted: the linear stage then stands aside (see linear_aec.py) and
            # AEC3 alone lowers the user 2-8 dB while both talk (measured); never muted.
            print(f"  (the echo path moved in all {ATTEMPTS} attempts: double talk judged loosely)")
            assert m["double_talk"] > -12.0


def test_engine_live_audio_path(virtual_audio_device, speech):
    """The engine's own live audio (separate input and output streams with rings) and its loop:
    far = the frame written for playback one step earlier; the delay (device latencies, then
    queued output too) re-reported every second. The user is mixed into the mic frames twice:
    talking over the last DOUBLE_TALK_S of Moshi's playback, then alone after its echo has died out."""
    import threading

    from moshi_mlx.engine.live import LiveAudio

    moshi, user = speech
    lead, tail = 2 * RATE, len(user) + RATE
    play = np.concatenate([np.zeros(lead, np.float32), moshi, np.zeros(tail, np.float32)])
    dt = int(DOUBLE_TALK_S * RATE)
    d0 = (lead + len(moshi) - dt) // FRAME * FRAME  # the echo arrives later still: it overlaps
    u0 = (lead + len(moshi) + RATE) // FRAME * FRAME  # 1 s after Moshi stops
    clean_user = np.zeros_like(play)
    clean_user[d0:d0 + dt] = user[:dt]
    clean_user[u0:u0 + len(user)] = user

    def record():
        audio = LiveAudio(None, None, 3)
        canceller = EchoCanceller()
        mics, outs = [], []
        try:
            audio.start()
            # 160 ms of cushion in the output ring: an underrun inserts silence into the playback, and
            # the echo path is then longer than the reference says until AEC3 finds it again.
            audio.write_frame(np.zeros(2 * FRAME, np.float32))
            canceller.set_delay_ms((audio.input_latency_s + audio.output_latency_s) * 1e3)
            far = np.zeros(FRAME, np.float32)
            stop = threading.Event()
            for k in range(len(play) // FRAME):
                mic = audio.read_frame(stop)
                assert mic is not None, "the loopback input stopped"
                mic = np.nan_to_num(mic)
                mics.append(mic)  # the echo alone
                outs.append(canceller.process(mic + clean_user[k * FRAME:(k + 1) * FRAME], far))
                far = play[k * FRAME:(k + 1) * FRAME]
                audio.write_frame(far)
                if k % 12 == 11:
                    canceller.set_delay_ms((audio.input_latency_s + audio.output_latency_s
                                            + audio.queued_output_s) * 1e3)
        finally:
            audio.close()
        return np.concatenate(mics), np.concatenate(outs), canceller, audio

    # An underrun of the loaded test machine's virtual device can move the echo path mid-recording
    # (AEC3 then needs a while to find it again): such a recording is made once more, and only a
    # second moved one is judged loosely.
    for _ in range(2):
        mic, out, canceller, audio = record()
        echo = np.flatnonzero(np.abs(mic[:u0]) > 1e-3)
        assert len(echo), "no echo came back through the loopback device"
        assert echo[-1] > d0 + dt // 2, "Moshi's echo ended before the double talk"
        echo_only = slice(echo[0], d0)
        double_talk = slice(d0, d0 + dt)
        user_only = slice(u0, u0 + len(user))
        erle = ratio_db(mic[echo_only], out[echo_only])
        user_db = ratio_db(out[user_only], clean_user[user_only])
        double_talk_db = ratio_db(out[double_talk], clean_user[double_talk])
        print(f"\nengine live audio: echo from {echo[0] / RATE:.2f} s (Moshi from {lead / RATE:.2f} s), "
              f"reported delay {canceller.delay_ms:.0f} ms, ERLE {erle:.1f} dB, user-only "
              f"{user_db:+.2f} dB, double talk {double_talk_db:+.2f} dB (vs the clean utterance), "
              f"{audio.dropped_frames} dropped frames, {audio.underruns} underruns")
        # Here the echo path may jump while recording (separate streams on a loaded machine: seen
        # 200 -> 240 ms once in a few runs); AEC3 then leaks echo for ~0.5-1 s while it finds the new
        # delay. Judged per half second, with the jumps printed.
        half = RATE // 2
        windows = [ratio_db(mic[i:i + half], out[i:i + half])
                   for i in range(echo_only.start, echo_only.stop - half + 1, half)
                   if np.sqrt(np.mean(mic[i:i + half] ** 2)) > 1e-3]
        lags = delay_track(mic, play, echo[0], echo[-1])  # mic: the echo alone, double talk included
        if is_still(lags):
            break
        print("  (the echo path moved while recording)")
    print(f"  ERLE per 0.5 s: {' '.join(f'{w:.0f}' for w in windows)} dB; echo delay per 0.5 s: "
          f"{sorted(set(round(x / RATE * 1000) for x in lags))} ms")
    assert np.median(windows) >= 20.0
    assert np.mean(np.array(windows) >= 20.0) >= 0.75
    assert abs(user_db) <= 3.0
    if is_still(lags):
        assert abs(double_talk_db) <= 3.0
    else:  # the linear stage stands aside and AEC3 alone lowers the user 2-8 dB (see above)
        print("  (the echo path moved: double talk judged loosely)")
        assert double_talk_db > -12.0
