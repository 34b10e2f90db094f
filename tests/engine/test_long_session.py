"""A 7,500-frame (10 minute) conversation with the demo model: faster than real time, flat memory.

The whole live loop runs (FrameEngine, events, stats, recorder) with an audio source that delivers
frames as fast as they are consumed instead of every 80 ms, so ten minutes take what the machine
needs to process them.
"""

import time

import numpy as np
import pytest
import soundfile as sf

from moshi_mlx.bench.stats import peak_rss_bytes
from moshi_mlx.engine import live
from moshi_mlx.engine.conversation import ConversationEngine, EngineOptions
from moshi_mlx.engine.devices import AudioDevice
from moshi_mlx.engine.events import ErrorEvent, StateEvent, StatsEvent, TextEvent

FRAMES = 7500


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return peak_rss_bytes() / 2**20  # no /proc (macOS): the peak is the best we have


class FastAudio:
    """LiveAudio's worker-side interface over a looped signal, with no pacing."""

    rss: dict = {}

    def __init__(self, input_device, output_device, max_lag_frames):
        dev = AudioDevice(0, "fast", 1, 1, 24000.0, True, True, False)
        self.input = self.output = dev
        self.in_rate = self.out_rate = 24000
        self.dropped_frames = self.underruns = 0
        self.lost = False
        self.lag_frames = 0.0
        self.input_latency_s = self.output_latency_s = self.queued_output_s = 0.0
        rng = np.random.default_rng(0)
        t = np.arange(24000 * 3) / 24000
        self.signal = (0.2 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0)
                       + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
        self.count = 0
        self.output_energy = 0.0

    def start(self):
        pass

    def read_frame(self, stop):
        if stop.is_set() or self.count >= FRAMES:
            return None
        if self.count % 250 == 0:
            FastAudio.rss[self.count] = rss_mb()
        start = (self.count * 1920) % (len(self.signal) - 1920)
        self.count += 1
        return self.signal[start:start + 1920].copy()

    def write_frame(self, pcm):
        self.output_energy += float(np.square(pcm).sum())

    def close(self):
        FastAudio.rss[self.count] = rss_mb()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_7500_frames_faster_than_real_time_with_flat_memory(demo_home, event_log, tmp_path,
                                                           monkeypatch):
    monkeypatch.setattr(live, "LiveAudio", FastAudio)
    engine = ConversationEngine(event_log)
    engine.start(EngineOptions(model="demo", cache_dir=str(demo_home), seed=3, aec=False,
                               record_dir=str(tmp_path)))
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "running", 120)
    t0 = time.monotonic()
    assert event_log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "stopped", 800)
    wall = time.monotonic() - t0
    engine.stop()
    assert not [e for e in event_log.of(ErrorEvent) if e.fatal], event_log.of(ErrorEvent)

    audio_s = FRAMES * 0.08
    rss = FastAudio.rss
    growth = rss[FRAMES] - rss[1000]
    print(f"\n{FRAMES} frames ({audio_s:.0f} s of audio) in {wall:.0f} s: "
          f"{1000 * wall / FRAMES:.1f} ms/frame, {audio_s / wall:.1f}x real time; "
          f"RSS {rss[250]:.0f} MB at 250, {rss[1000]:.0f} MB at 1000, {rss[FRAMES]:.0f} MB at "
          f"{FRAMES} (+{growth:.1f} MB)")
    assert wall < audio_s, "slower than real time"
    assert growth < 25, f"memory grows: {rss}"
    late = [v for k, v in rss.items() if k >= 1000]
    assert max(late) - min(late) < 25, rss

    stats = event_log.of(StatsEvent)
    assert stats[-1].frames > FRAMES - 200 and stats[-1].real_time_factor < 1.0
    texts = event_log.of(TextEvent)
    assert texts[-1].time_s > audio_s - 60, "text must keep coming until the end"
    wav, _ = sf.read(engine.recording_paths["wav"], frames=1, start=0)
    info = sf.info(engine.recording_paths["wav"])
    assert info.frames == FRAMES * 1920 and info.channels == 2
