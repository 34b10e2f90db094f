"""A headless client of Kyutai's protocol that measures the latency of a server.

    python -m moshi_mlx.serve.probe ws://127.0.0.1:8998/api/chat --seconds 20

It streams a test signal in 80 ms frames (paced at real time, or as fast as the server answers with
`--window N`), decodes the answer, and times each frame: from the moment the client sent the frame
to the moment the server's answer frame for it has fully arrived. The server answers every frame it
processes with one frame (silence while the model's delays fill), so answer k is the k-th 1920
samples of decoded audio (exact while no frame is dropped: the summary counts drops). This is the
network + server part of the latency; the devices' buffers at both ends come on top.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .. import FRAME_SIZE, SAMPLE_RATE
from . import protocol

FRAME_S = FRAME_SIZE / SAMPLE_RATE


@dataclass
class ProbeResult:
    sent: int = 0  # frames sent
    answered: int = 0  # answer frames received
    latencies_ms: list[float] = field(default_factory=list)  # per answered frame, in order
    text: str = ""
    errors: list[str] = field(default_factory=list)  # kind-5 messages from the server
    close_code: int | None = None
    wall_s: float = 0.0
    tail_s: float = 0.0  # from the last frame sent to the last answer received

    def summary(self) -> dict:
        lat = np.asarray(self.latencies_ms)
        # After a frame is dropped (the server was behind, or the link too slow), answer k belongs
        # to a later frame than k: the latencies after it are overestimated by 80 ms per drop.
        return {"sent": self.sent, "answered": self.answered, "dropped": self.sent - self.answered,
                "median_ms": round(float(np.median(lat)), 1) if lat.size else None,
                "p90_ms": round(float(np.percentile(lat, 90)), 1) if lat.size else None,
                "max_ms": round(float(lat.max()), 1) if lat.size else None,
                "wall_s": round(self.wall_s, 2), "text_chars": len(self.text)}


def probe_signal(frames: int, seed: int = 0) -> np.ndarray:
    """Something voice-like for the codec: a gliding tone in bursts, plus a little noise."""
    n = frames * FRAME_SIZE
    t = np.arange(n) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * (180 + 60 * np.sin(2 * np.pi * 0.3 * t)) * t)
    bursts = (np.sin(2 * np.pi * 0.8 * t) > -0.2).astype(np.float64)
    noise = np.random.default_rng(seed).standard_normal(n)
    return (0.25 * tone * bursts + 0.01 * noise).astype(np.float32)


class Prober:
    """One connection: `await run(frames, pace=...)`; answers are timed as they arrive."""

    def __init__(self, ws, keep_audio: bool = False):
        import sphn

        self.ws = ws
        self.writer = sphn.OpusStreamWriter(SAMPLE_RATE)
        self.reader = sphn.OpusStreamReader(SAMPLE_RATE)
        self.result = ProbeResult()
        self._sent_at: list[float] = []
        self._decoded = 0
        self._answered = asyncio.Event()
        self.audio: list[np.ndarray] | None = [] if keep_audio else None  # decoded answer
        self.serial = b""
        self._last_answer = 0.0

    async def handshake(self, timeout: float = 60.0) -> bool:
        """Wait for the server's b"\\x00"; False (with result.errors) if it refused instead."""
        import aiohttp

        while True:
            msg = await self.ws.receive(timeout)
            if msg.type != aiohttp.WSMsgType.BINARY:
                self.result.close_code = self.ws.close_code
                return False
            if msg.data[:1] == bytes([protocol.HANDSHAKE]):
                return True
            self._on_message(msg.data)

    def _on_message(self, data: bytes) -> None:
        if not data:
            return
        kind, payload = data[0], data[1:]
        if kind == protocol.AUDIO:
            pcm = self.reader.append_bytes(payload)
            if self.audio is not None:
                self.audio.append(pcm)
            self._decoded += int(pcm.size)
            now = self._last_answer = time.monotonic()
            while (self.result.answered + 1) * FRAME_SIZE <= self._decoded:
                k = self.result.answered
                if k < len(self._sent_at):
                    self.result.latencies_ms.append((now - self._sent_at[k]) * 1e3)
                self.result.answered += 1
            self._answered.set()
        elif kind == protocol.TEXT:
            self.result.text += payload.decode("utf-8", errors="replace")
        elif kind == protocol.ERROR:
            self.result.errors.append(payload.decode("utf-8", errors="replace"))

    async def receive_loop(self) -> None:
        import aiohttp

        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self._on_message(msg.data)
        self.result.close_code = self.ws.close_code

    async def send_frame(self, pcm: np.ndarray) -> None:
        ogg = self.writer.append_pcm(pcm)
        if self.result.sent == 0 and ogg[:4] == b"OggS":
            self.serial = ogg[14:18]  # this client's Ogg stream serial number
        self._sent_at.append(time.monotonic())
        self.result.sent += 1
        if ogg:
            await self.ws.send_bytes(protocol.audio_message(ogg))

    async def run(self, signal: np.ndarray, pace: bool = True, window: int = 2,
                  settle_s: float = 2.0) -> ProbeResult:
        """Send `signal` frame by frame: paced at real time, or (pace=False) keeping at most
        `window` frames unanswered. Then wait up to `settle_s` for the last answers."""
        receiver = asyncio.create_task(self.receive_loop())
        start = time.monotonic()
        try:
            for i in range(len(signal) // FRAME_SIZE):
                if pace:
                    await asyncio.sleep(max(0.0, start + i * FRAME_S - time.monotonic()))
                else:
                    while self.result.sent - self.result.answered >= window and not receiver.done():
                        self._answered.clear()
                        try:
                            await asyncio.wait_for(self._answered.wait(), settle_s)
                        except asyncio.TimeoutError:
                            break  # the answer was dropped: go on
                if receiver.done():
                    break
                await self.send_frame(signal[i * FRAME_SIZE:(i + 1) * FRAME_SIZE])
            deadline = time.monotonic() + settle_s
            while self.result.answered < self.result.sent and time.monotonic() < deadline \
                    and not receiver.done():
                self._answered.clear()
                try:
                    await asyncio.wait_for(self._answered.wait(), max(0.01, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
        finally:
            self.result.wall_s = time.monotonic() - start
            if self._sent_at:
                self.result.tail_s = max(0.0, self._last_answer - self._sent_at[-1])
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        return self.result


async def probe(url: str, seconds: float = 10.0, token: str | None = None, pace: bool = True,
                window: int = 2, verify_tls: bool = True) -> ProbeResult:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, headers=headers, ssl=verify_tls,
                                   max_msg_size=0) as ws:
            prober = Prober(ws)
            if not await prober.handshake():
                return prober.result
            frames = max(1, int(round(seconds / FRAME_S)))
            return await prober.run(probe_signal(frames), pace=pace, window=window)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m moshi_mlx.serve.probe", description=__doc__.splitlines()[0])
    p.add_argument("url", help="websocket URL, e.g. ws://127.0.0.1:8998/api/chat")
    p.add_argument("--seconds", type=float, default=10.0, help="audio to stream (default 10)")
    p.add_argument("--token", default=None)
    p.add_argument("--window", type=int, default=0,
                   help="do not pace at real time: keep at most N frames unanswered")
    p.add_argument("--insecure", action="store_true", help="accept any TLS certificate")
    args = p.parse_args(argv)
    try:
        result = asyncio.run(probe(args.url, args.seconds, args.token, pace=args.window <= 0,
                                   window=max(1, args.window), verify_tls=not args.insecure))
    except (OSError, asyncio.TimeoutError) as e:
        print(f"error: cannot talk to {args.url}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # aiohttp's handshake errors (401, 400...) name the status
        print(f"error: {args.url}: {e}", file=sys.stderr)
        return 2
    if result.errors:
        print(f"server said: {' / '.join(result.errors)}", file=sys.stderr)
    print(json.dumps(result.summary()))
    return 0 if result.answered else 1


if __name__ == "__main__":
    sys.exit(main())
