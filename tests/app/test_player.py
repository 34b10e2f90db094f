"""The History's player (app/player.py): position, pause, seek without stale audio, the end of the
file, resampling; with a fake output stream that calls the callback like PortAudio, and for real
through the virtual PulseAudio device."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf

from moshi_app.player import Player, PlayerError

RATE = 24000
DURATION = 4.0


class FakeStream:
    """Calls the callback with 40 ms blocks on its own thread, `speed` times faster than real time,
    and keeps what was 'played'."""

    def __init__(self, callback, rate=RATE, channels=2, speed=4.0):
        self.callback, self.rate, self.channels, self.speed = callback, rate, channels, speed
        self.blocks: list[np.ndarray] = []
        self.active = False
        self._thread = None

    def start(self):
        self.active = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        n = int(self.rate * 0.04)
        while self.active:
            out = np.empty((n, self.channels), np.float32)
            self.callback(out, n, None, None)
            self.blocks.append(out.copy())
            time.sleep(0.04 / self.speed)

    def stop(self):
        self.active = False
        if self._thread is not None:
            self._thread.join(2)

    def close(self):
        self.stop()

    def mono(self, start_block=0):
        return np.concatenate([b[:, 0] for b in self.blocks[start_block:]]) if self.blocks else np.zeros(0)


def value_at(seconds):
    """What the test file holds at `seconds` (never 0: silence means nothing played): the user
    channel a ramp, the Moshi channel 0."""
    return 0.05 + 0.4 * seconds / DURATION


@pytest.fixture
def ramp(tmp_path):
    t = np.arange(int(RATE * DURATION)) / RATE
    stereo = np.stack([value_at(t), np.zeros_like(t)], axis=1).astype(np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(path, stereo, RATE, subtype="FLOAT")
    return path


def make(path, **kw):
    made = {}

    def open_stream(callback):
        made["stream"] = FakeStream(callback, **kw)
        return made["stream"], made["stream"].rate, made["stream"].channels

    player = Player(path, open_stream=open_stream)
    return player, made["stream"]


def wait(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_position_follows_what_is_played_and_pause_holds_it(ramp):
    player, stream = make(ramp)
    try:
        assert player.duration == DURATION and player.position == 0.0
        time.sleep(0.1)
        assert player.position == 0.0 and not stream.mono().any()  # paused: silence, nothing consumed
        player.play()
        assert wait(lambda: player.position >= 1.0)
        player.pause()
        held = player.position
        time.sleep(0.1)
        assert player.position == held
        played = stream.mono()
        nonzero = played[played != 0]
        # what came out is the file from its start, in order, at the position reported
        assert np.allclose(nonzero, value_at(np.arange(len(nonzero)) / RATE), atol=1e-6)
        assert abs(len(nonzero) / RATE - held) <= 0.04 + 1e-9
        assert player.underruns == 0
    finally:
        player.close()


def test_seek_drops_what_was_queued_and_plays_from_the_new_place(ramp):
    player, stream = make(ramp)
    try:
        player.seek(3.0)
        player.play()
        assert wait(lambda: player.position >= 3.3)
        mark = len(stream.blocks)
        player.seek(1.0)
        assert player.position == 1.0  # at once, before the callback has flushed
        assert wait(lambda: 1.2 <= player.position < 2.0)
        after = stream.mono(mark)
        after = after[after != 0]
        jump = int(np.argmax(after < value_at(3.0)))
        assert jump > 0 or after[0] < value_at(3.0)
        old, new = after[:jump], after[jump:]
        assert (old >= value_at(3.3) - 1e-6).all()  # before the flush: the old place, continuing
        # after it: exactly the file from 1.0 s on, no stale block in between
        assert np.allclose(new, value_at(1.0 + np.arange(len(new)) / RATE), atol=1e-6)
    finally:
        player.close()


class ManualStream:
    """An output whose callback the test calls itself, block by block."""

    def __init__(self, callback):
        self.callback, self.active = callback, True

    def start(self):
        pass

    def stop(self):
        pass

    def close(self):
        pass

    def block(self, frames=int(RATE * 0.04)):
        out = np.empty((frames, 1), np.float32)
        self.callback(out, frames, None, None)
        return out[:, 0]


def test_nothing_from_before_a_seek_plays_while_the_seek_is_pending(ramp):
    made = {}

    def open_stream(callback):
        made["stream"] = ManualStream(callback)
        return made["stream"], RATE, 1

    player = Player(ramp, open_stream=open_stream)
    stream = made["stream"]
    try:
        assert wait(lambda: player._ring.available() >= RATE // 2)  # the start of the file queued
        player.play()
        assert np.allclose(stream.block()[:3], value_at(np.arange(3) / RATE), atol=1e-6)
        def blocks_until_the_seek_is_done():
            played = [stream.block()]  # the first before the feeder has even asked for a flush
            end = time.monotonic() + 10
            while player._seek_to is not None and time.monotonic() < end:
                played.append(stream.block())
                time.sleep(0.001)
            assert player._seek_to is None
            return np.concatenate(played)

        for _ in range(20):
            player.seek(3.5)
            played = blocks_until_the_seek_is_done()
            assert not (played[played != 0] < value_at(3.5) - 1e-6).any()
            player.seek(0.0)
            blocks_until_the_seek_is_done()
    finally:
        player.close()


def test_end_of_file_stops_at_the_duration_and_play_starts_again(ramp):
    player, stream = make(ramp, speed=20.0)
    try:
        player.seek(3.5)
        player.play()
        assert wait(lambda: player.drained)
        assert player.position == DURATION
        total = stream.mono()
        assert abs(np.count_nonzero(total) / RATE - 0.5) < 1e-3  # the last half second, once
        player.play()  # from the start again
        assert wait(lambda: 0 < player.position < 1.0 and not player.drained)
    finally:
        player.close()


def test_device_rate_other_than_the_file_is_resampled(ramp):
    player, stream = make(ramp, rate=48000, speed=8.0)
    try:
        player.play()
        assert wait(lambda: player.position >= 2.0)
        player.pause()
        out = stream.mono()
        out = out[out != 0]
        assert abs(len(out) / 48000 - player.position) <= 0.05
        mid = len(out) // 2  # the ramp at half the played time (soxr's delay aside)
        assert abs(out[mid] - value_at(mid / 48000)) < 0.01
    finally:
        player.close()


def test_unplayable_file_and_missing_device_are_explained(tmp_path, ramp):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(PlayerError, match="bad.wav: cannot be played"):
        Player(bad, open_stream=lambda cb: (FakeStream(cb), RATE, 2))

    def no_device(_cb):
        raise RuntimeError("no output device")

    with pytest.raises(PlayerError, match="cannot open the output device for playback: no output device"):
        Player(ramp, open_stream=no_device)


@pytest.mark.audio
def test_plays_through_the_virtual_sound_card(virtual_audio_device, ramp):
    """sounddevice output on the loopback device: the position moves at the device's pace and the
    ramp comes back on the loopback's input."""
    import sounddevice as sd

    player = Player(ramp)
    try:
        heard = []
        with sd.InputStream(samplerate=RATE, channels=1, dtype="float32",
                            callback=lambda data, *_: heard.append(data[:, 0].copy())):
            player.play()
            assert wait(lambda: player.position >= 0.2, timeout=10)  # the server has started
            t0, p0 = time.monotonic(), player.position
            time.sleep(1.0)
            t1, p1 = time.monotonic(), player.position
            time.sleep(0.3)
        speed = (p1 - p0) / (t1 - t0)
        assert 0.8 <= speed <= 1.25, speed  # the device's pace: real time
        captured = np.concatenate(heard)
        assert captured.max() > value_at(1.0)  # the ramp was played out loud
        player.seek(0.5)
        assert wait(lambda: 0.5 < player.position < 1.5, timeout=5)
    finally:
        player.close()
