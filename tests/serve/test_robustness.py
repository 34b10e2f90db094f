"""Misbehaving clients and networks: malformed messages and a fuzz of 1,000, clients that vanish in
the middle of a frame, a slow link, a slow engine, many connections and a 10-minute session, all
with the server going on and its memory flat."""

import asyncio
import gc
import json
import subprocess
import sys
import time

import aiohttp
import numpy as np
import pytest

from moshi_mlx.serve import protocol
from moshi_mlx.serve.events import ClientEvent, SessionStatsEvent
from moshi_mlx.serve.ogg import ogg_crc
from moshi_mlx.serve.probe import Prober, probe, probe_signal
from moshi_mlx.serve.session import MAX_MESSAGE_BYTES, ChatSession
from tests.engine.test_long_session import rss_mb

from .conftest import TOKEN, EventLog, auth, run, start_server, wait_until, ws_url
from .netutil import RawWebsocket, ThrottledProxy


def _server_tasks(server) -> int:
    async def count():
        return len(asyncio.all_tasks())

    return asyncio.run_coroutine_threadsafe(count(), server._loop).result(10)


def _freed(server) -> bool:
    gc.collect()
    return server.connected is None and len(server.live_sessions) == 0


def _garbage_opus_page(rng, serial: bytes, sequence: int) -> bytes:
    """A well-formed Ogg page (valid CRC) whose packet is random bytes."""
    payload = rng.bytes(int(rng.integers(1, 255)))
    header = bytearray(b"OggS\x00\x00" + (123456).to_bytes(8, "little") + serial
                       + sequence.to_bytes(4, "little") + b"\0\0\0\0" + bytes([1, len(payload)]))
    page = header + payload
    page[22:26] = ogg_crc(page).to_bytes(4, "little")
    return bytes(page)


def _random_message(rng, i: int, serial: bytes) -> tuple[str, bytes | str]:
    choice = i % 9
    if choice == 0:
        return "empty", b""
    if choice == 1:
        return "unknown kind", bytes([int(rng.integers(2, 256))]) + rng.bytes(int(rng.integers(0, 500)))
    if choice == 2:
        return "random audio", b"\x01" + rng.bytes(int(rng.integers(0, 2000)))
    if choice == 3:  # a valid page of another stream
        return "foreign page", b"\x01" + _garbage_opus_page(rng, rng.bytes(4), 1000 + i)
    if choice == 4:  # a valid page of the client's own stream, out of sequence
        return "replayed page", b"\x01" + _garbage_opus_page(rng, serial, 1)
    if choice == 5:
        return "fake page header", b"\x01OggS\x00" + rng.bytes(int(rng.integers(0, 300)))
    if choice == 6:
        return "handshake from a client", b"\x00"
    if choice == 7:
        return "text frame", "".join(chr(int(c)) for c in rng.integers(32, 0x2FF, 20))
    if i % 90 == 8:
        return "oversized", b"\x01" + rng.bytes(MAX_MESSAGE_BYTES + 10)
    return "random", rng.bytes(int(rng.integers(1, 100)))


def test_malformed_messages_are_skipped_and_fuzz_then_a_normal_session(idle_server, server_log):
    rng = np.random.default_rng(7)

    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(idle_server), headers=auth(), max_msg_size=0) as ws:
                prober = Prober(ws)
                assert await prober.handshake()
                signal = probe_signal(40)
                await prober.run(signal[:10 * 1920], pace=False)
                kinds = set()
                for i in range(1000):
                    kind, message = _random_message(rng, i, prober.serial)
                    kinds.add(kind)
                    if isinstance(message, str):
                        await ws.send_str(message)
                    else:
                        await ws.send_bytes(message)
                # garbage Opus inside the client's own stream (the next page numbers): it reaches
                # the decoder, which fails on it or makes noise of it
                sequence = 2 * 10 + 2  # sphn: OpusHead, OpusTags, then 2 pages per 80 ms frame
                for j in range(20):
                    page = _garbage_opus_page(rng, prober.serial, sequence + j)
                    await ws.send_bytes(b"\x01" + page)
                    kinds.add("garbage opus")
                before = prober.result.answered
                # the client's stream goes on; its page numbers are past the garbage's now
                for _ in range(20):
                    prober.writer.append_pcm(np.zeros(1920, np.float32))
                await prober.run(signal[10 * 1920:], pace=False)
                return prober.result, before, kinds, ws.closed

    result, before, kinds, closed = run(scenario(), timeout=300)
    assert len(kinds) == 11, kinds
    assert not closed and idle_server.running
    assert before == 10  # all answered before the garbage
    assert result.answered - before >= 30, (before, result.answered)  # and the stream after it
    assert result.errors == []
    assert wait_until(lambda: _freed(idle_server), 20)
    last = server_log.of(SessionStatsEvent)[-1]
    assert last.skipped_messages >= 750, last
    assert server_log.of(ClientEvent)[-1].change == "disconnected"
    # and a normal session afterwards
    normal = run(probe(ws_url(idle_server), seconds=1.0, token=TOKEN))
    assert normal.answered == normal.sent == 12 and normal.text


def test_client_vanishing_mid_frame_frees_everything(idle_server):
    baseline_tasks = _server_tasks(idle_server)
    # 1. the connection resets in the middle of a websocket frame
    raw = RawWebsocket(idle_server.port, headers=auth())
    assert raw.status == 101 and raw.read_message() == b"\x00"
    writer = __import__("sphn").OpusStreamWriter(24000)
    page = protocol.audio_message(writer.append_pcm(probe_signal(1)))
    raw.sock.sendall(RawWebsocket.frame(page))
    frame = RawWebsocket.frame(protocol.audio_message(writer.append_pcm(probe_signal(2)[1920:])))
    raw.sock.sendall(frame[:len(frame) // 2])
    raw.abort()
    assert wait_until(lambda: _freed(idle_server), 20), "the session was not freed"

    # 2. while frames are being processed: a burst, then the socket closes at once
    async def burst_and_vanish():
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(ws_url(idle_server), headers=auth())
            assert (await ws.receive(30)).data == b"\x00"
            writer = __import__("sphn").OpusStreamWriter(24000)
            signal = probe_signal(30)
            for i in range(30):
                await ws.send_bytes(protocol.audio_message(writer.append_pcm(signal[i * 1920:(i + 1) * 1920])))
            await asyncio.sleep(0.05)
            ws._response.connection.transport.abort()

    run(burst_and_vanish())
    assert wait_until(lambda: _freed(idle_server), 20), "the session was not freed"
    assert wait_until(lambda: _server_tasks(idle_server) == baseline_tasks, 10)
    assert run(probe(ws_url(idle_server), seconds=0.5, token=TOKEN)).answered == 6


@pytest.mark.realtime
def test_slow_client_makes_the_server_drop_frames_not_queue_them(server, demo_home):
    """Moshi's audio through a link too slow for it: the server drops frames; when the link
    recovers, what was still queued anywhere between server and client is under a second, where
    keeping every frame would have queued most of the ten seconds."""
    log = EventLog()
    lan = start_server(log, demo_home, model=server.model, max_lag_frames=3)
    proxy = ThrottledProxy(lan.port, rate=1200.0)  # bytes/s; the answer's Opus needs ~4,500
    try:
        async def scenario():
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(f"ws://127.0.0.1:{proxy.port}/api/chat") as ws:
                    prober = Prober(ws)
                    assert await prober.handshake()
                    receiver = asyncio.create_task(prober.receive_loop())
                    signal = probe_signal(125)
                    start = time.monotonic()
                    for i in range(125):  # 10 s at real time
                        await asyncio.sleep(max(0.0, start + i * 0.08 - time.monotonic()))
                        await prober.send_frame(signal[i * 1920:(i + 1) * 1920])
                    before = prober._decoded
                    proxy.rate = None  # the link recovers
                    await asyncio.sleep(2.0)
                    receiver.cancel()
                    return (prober._decoded - before) / 24000, prober._decoded / 24000

        queued_s, received_s = run(scenario())
        assert wait_until(lambda: lan.connected is None, 20)
        stats = log.of(SessionStatsEvent)[-1]
        print(f"slow link: received {received_s:.1f} s of 10 s, {queued_s:.2f} s queued at recovery, "
              f"dropped {stats.dropped_output} frames, in flight {stats.frames_in_flight}")
        assert stats.dropped_output > 40, stats
        assert stats.frames_received == 125 == stats.frames + stats.dropped_input, stats
        assert queued_s < 1.0, queued_s
    finally:
        proxy.close()
        lan.stop()


@pytest.mark.realtime
def test_a_client_that_reads_nothing_never_stalls_the_input(server, demo_home):
    """A device that sends its microphone but reads nothing (a small receive buffer, full at
    once): every frame it sends is still heard and answered in time; Moshi's audio for it is
    dropped, not queued."""
    import sphn

    log = EventLog()
    lan = start_server(log, demo_home, model=server.model, max_lag_frames=3)
    try:
        ws = RawWebsocket(lan.port, rcvbuf=2048)
        assert ws.status == 101 and ws.read_message() == b"\x00"
        writer = sphn.OpusStreamWriter(24000)
        signal = probe_signal(125)
        start = time.monotonic()
        for i in range(125):  # 10 s at real time, and never a read
            time.sleep(max(0.0, start + i * 0.08 - time.monotonic()))
            ogg = writer.append_pcm(signal[i * 1920:(i + 1) * 1920])
            if ogg:
                ws.sock.sendall(ws.frame(protocol.audio_message(ogg)))
        time.sleep(1.0)  # the last frames' turn with the engine
        ws.abort()
        assert wait_until(lambda: lan.connected is None, 20)
        stats = log.of(SessionStatsEvent)[-1]
        print(f"client reading nothing: {stats.frames} of {stats.frames_received} frames processed, "
              f"{stats.dropped_input} dropped in, {stats.dropped_output} dropped out")
        # every frame reached the server (a stalled input stopped at ~26 of 125); some may be
        # dropped for lag on a machine too slow for real time, which is another matter
        assert stats.frames_received == 125 == stats.frames + stats.dropped_input, stats
        assert stats.dropped_output > 40, stats
    finally:
        lan.stop()


@pytest.mark.realtime
def test_slow_engine_drops_input_instead_of_falling_behind(server, demo_home, monkeypatch):
    real_step = ChatSession._step

    def slow_step(self, pcm):  # 150 ms a frame: the engine runs at half of real time
        time.sleep(0.15)
        return real_step(self, pcm)

    monkeypatch.setattr(ChatSession, "_step", slow_step)
    log = EventLog()
    slow = start_server(log, demo_home, model=server.model, max_lag_frames=3)
    try:
        result = run(probe(f"ws://127.0.0.1:{slow.port}/api/chat", seconds=5.0, pace=True))
        assert wait_until(lambda: slow.connected is None, 20)
        stats = log.of(SessionStatsEvent)[-1]
        print(f"slow engine: {stats.frames} of {stats.frames_received} frames processed, "
              f"{stats.dropped_input} dropped, server latency {stats.server_latency_ms:.0f} ms")
        assert stats.dropped_input >= 20, stats
        assert stats.server_latency_ms < 3 * 80 + 2 * 150 + 150, stats
        assert 0 < result.answered < result.sent
        # answers stopped coming soon after the last frame was sent: no backlog of seconds
        assert result.tail_s < 1.0, result.tail_s
    finally:
        slow.stop()


def test_twenty_connections_keep_memory_flat(idle_server):
    async def one():
        result = await probe(ws_url(idle_server), seconds=0.4, token=TOKEN, pace=False)
        assert result.answered == 5

    for _ in range(3):  # warm-up: allocator pools, compiled variants
        run(one())
    assert wait_until(lambda: _freed(idle_server), 20)
    before = rss_mb()
    tasks = _server_tasks(idle_server)
    samples = []
    for i in range(20):
        run(one())
        assert wait_until(lambda: _freed(idle_server), 20), f"cycle {i}: not freed"
        samples.append(rss_mb())
    print(f"20 cycles: RSS {before:.0f} MB -> {samples[-1]:.0f} MB (max {max(samples):.0f})")
    assert _server_tasks(idle_server) == tasks
    assert samples[-1] - before < 25, samples
    assert samples[-1] - samples[9] < 10, samples  # no steady growth in the second half


@pytest.mark.slow
def test_ten_minute_session_keeps_memory_flat(idle_server, server_log):
    """7,500 frames (10 minutes of audio) over the socket, as fast as the server answers, from a
    client in another process; the memory of this process (the server) is sampled as it goes."""
    frames = 7500
    start = time.monotonic()
    client = subprocess.Popen([sys.executable, "-m", "moshi_mlx.serve.probe", ws_url(idle_server),
                               "--seconds", str(frames * 0.08), "--window", "3", "--token", TOKEN],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rss: dict[int, float] = {}
    try:
        while client.poll() is None and time.monotonic() - start < 540:
            stats = [e for e in server_log.events[-200:] if isinstance(e, SessionStatsEvent)]
            if stats:
                rss[stats[-1].frames] = rss_mb()
            time.sleep(0.5)
        out, err = client.communicate(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
    took = time.monotonic() - start
    assert wait_until(lambda: idle_server.connected is None, 20)
    stats = server_log.of(SessionStatsEvent)[-1]
    summary = json.loads(out)
    by_minute = {k: v for k, v in rss.items() if k % 750 < 40}
    print(f"10-minute session in {took:.0f} s ({stats.step_ms:.1f} ms a frame in the engine): "
          f"{summary}; RSS (MB) by frame: " + ", ".join(f"{k}: {v:.0f}" for k, v in by_minute.items()))
    assert client.returncode == 0, err
    assert summary["sent"] == summary["answered"] == frames == stats.frames
    assert stats.dropped_input == stats.dropped_output == stats.skipped_messages == 0, stats
    # flat after the first minute (the KV ring and the compiled variants are all made by then)
    steady = [v for k, v in rss.items() if k >= 750]
    assert len(steady) > 20 and max(steady) - min(steady) < 30, rss
