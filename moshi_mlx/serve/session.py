"""One client's conversation over the websocket: Opus in -> 80 ms frames -> engine -> Opus out.

Three asyncio tasks per connection, none of which runs MLX: the receiver (messages -> checked Ogg
pages -> PCM -> frames), the processor (each frame goes to the process-wide MLX worker thread for
`FrameEngine.step`, the answer is encoded and queued), the sender (queue -> socket). They are
decoupled so that neither a slow client nor a slow frame holds the others up, and both directions
drop rather than queue:

- input frames that waited longer than `max_lag_frames` x 80 ms for the engine are dropped (the
  engine fell behind real time);
- Moshi's audio frames are dropped, not encoded, while more than `max_lag_frames` of them are still
  on their way to the client (see backlog.py): the Opus stream stays valid, the client hears a
  short gap instead of a growing delay.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import FRAME_RATE, SAMPLE_RATE
from ..engine import mlx_worker
from ..engine.conversation import db
from ..engine.core import FrameEngine
from ..engine.events import LevelEvent, TextEvent
from . import protocol
from .backlog import SendBacklog, kernel_unsent_bytes
from .events import SessionStatsEvent
from .ogg import OpusInput

log = logging.getLogger("moshi_mlx.serve")

FRAME_MS = 1000.0 / FRAME_RATE
CLOSE_BAD_IMAGE = 1003  # RFC 6455 "unsupported data"
MAX_MESSAGE_BYTES = 256 * 1024  # an 80 ms Opus page is < 2 kB; bigger messages are skipped
MAX_INPUT_FRAMES = 64  # hard bound on queued input (5 s), whatever the lag setting
MAX_OUTBOX_ITEMS = 512  # text messages kept for a client that does not read at all
LOGGED_PROBLEMS = 10  # per connection; the rest are counted and summed up at the end


async def on_worker(fn: Callable[[], object]):
    """Run `fn` on the MLX worker thread and await its result (the event loop never runs MLX)."""
    return await asyncio.wrap_future(mlx_worker.submit(fn))


@dataclass
class SessionCounters:
    frames_in: int = 0  # 80 ms frames decoded from the client
    frames_processed: int = 0
    dropped_input: int = 0  # waited too long for the engine
    dropped_output: int = 0  # the client was too far behind
    skipped_messages: int = 0  # malformed: logged and skipped


class InputFrames:
    """Decoded PCM -> whole frames, each stamped with the time its last sample arrived."""

    def __init__(self, frame_size: int, max_wait_s: float):
        self.frame_size = frame_size
        self.max_wait_s = max_wait_s
        self._partial = np.zeros(0, np.float32)
        self._frames: collections.deque[tuple[np.ndarray, float]] = collections.deque()
        self._ready = asyncio.Event()
        self.received = self.dropped = 0

    def push(self, pcm: np.ndarray, now: float) -> None:
        pcm = np.asarray(pcm, np.float32).reshape(-1)
        buf = np.concatenate([self._partial, pcm]) if len(self._partial) else pcm
        n = len(buf) // self.frame_size
        for i in range(n):
            self._frames.append((buf[i * self.frame_size:(i + 1) * self.frame_size].copy(), now))
        self.received += n
        self._partial = buf[n * self.frame_size:].copy()
        while len(self._frames) > MAX_INPUT_FRAMES:
            self._frames.popleft()
            self.dropped += 1
        if self._frames:
            self._ready.set()

    async def next(self) -> tuple[np.ndarray, float]:
        """The oldest frame that has not waited too long (older ones are dropped)."""
        while True:
            await self._ready.wait()
            now = time.monotonic()
            while len(self._frames) > 1 and now - self._frames[0][1] > self.max_wait_s:
                self._frames.popleft()
                self.dropped += 1
            frame = self._frames.popleft()
            if not self._frames:
                self._ready.clear()
            if now - frame[1] > self.max_wait_s:
                self.dropped += 1  # the only one left is stale too
                continue
            return frame


class Outbox:
    """Messages for the client, sent in order by one task; knows how much is still unsent."""

    def __init__(self, ws, transport):
        self.ws = ws
        self._transport = transport
        self._socket = transport.get_extra_info("socket") if transport is not None else None
        self._items: collections.deque[bytes] = collections.deque()
        self._ready = asyncio.Event()
        self.queued_bytes = 0
        self.backlog = SendBacklog()
        self.dropped_text = 0

    def put(self, message: bytes, audio: bool = False) -> None:
        if not audio and len(self._items) >= MAX_OUTBOX_ITEMS:
            self.dropped_text += 1
            return
        self._items.append(message)
        self.queued_bytes += len(message)
        self.backlog.add(len(message) + _ws_header_size(len(message)), audio_frame=audio)
        self._ready.set()

    def unsent_bytes(self) -> int:
        buffered = 0
        if self._transport is not None and not self._transport.is_closing():
            buffered = self._transport.get_write_buffer_size()
        return self.queued_bytes + buffered + kernel_unsent_bytes(self._socket)

    def frames_in_flight(self) -> int:
        return self.backlog.frames_in_flight(self.unsent_bytes())

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            while self._items:
                message = self._items.popleft()
                self.queued_bytes -= len(message)
                await self.ws.send_bytes(message)
            self._ready.clear()


def _ws_header_size(n: int) -> int:
    return 2 if n < 126 else 4 if n < 65536 else 10  # server frames are not masked


class ChatSession:
    """One connection's conversation. `run()` returns when the client leaves or the server stops;
    the engine state it made is released on the worker thread before it returns."""

    def __init__(self, ws, transport, model, sampling, *, session_id: int, peer: str,
                 max_lag_frames: int, emit: Callable, persona: dict | None = None,
                 image_first: bool = False):
        import sphn

        self.ws, self.model, self.sampling = ws, model, sampling
        self.session_id, self.peer, self.emit = session_id, peer, emit
        self.persona = persona  # kind options (checked by the server): a persona, an image, or None
        self.image_first = image_first  # a MoshiVis client: its picture comes first (serve/vis.py)
        self.image_file = None
        self.max_lag_frames = max_lag_frames
        self.frame_size = model.codec.frame_size
        self.inbox = InputFrames(self.frame_size, max_lag_frames * FRAME_MS / 1000.0)
        self.outbox = Outbox(ws, transport)
        self.audio_in = OpusInput(SAMPLE_RATE, self._skip)
        self.writer = sphn.OpusStreamWriter(SAMPLE_RATE)
        self.counters = SessionCounters()
        self._step_ms: collections.deque[float] = collections.deque(maxlen=int(FRAME_RATE * 5))
        self._latency_ms: collections.deque[float] = collections.deque(maxlen=int(FRAME_RATE))
        self.core: FrameEngine | None = None
        self.close_reason = "client left"

    # ---- the MLX side: only ever called on the worker thread ----

    def _prepare(self) -> None:
        # a clean state (caches, codec, samplers), then the persona's prompt (restored when kept)
        core = FrameEngine(self.model, self.sampling, self.persona)
        core.gen.warmup()  # compile this conversation's step variants now (the state stays as is)
        self.core = core

    def _step(self, pcm: np.ndarray):
        first = self.core.frames == 0
        result = self.core.step(pcm)
        if first and result.text_token is None:
            # As Kyutai's server: the model never reads the first frame's user codes (it is "in the
            # past"), and the encoder restarts so that the next frame gets the start-of-stream
            # padding. Frame 0 emits nothing (nothing was decoded), so only the encoder's state is
            # reset.
            self.core.model.codec.reset()
        return result

    def _release(self) -> None:
        self.core = None  # the KV cache and compiled steps are freed here, on the worker thread

    # ---- the asyncio side ----

    async def run(self) -> None:
        tasks: list[asyncio.Task] = []
        try:
            if self.image_first and not await self._receive_image():
                return
            await on_worker(self._prepare)
            await self.ws.send_bytes(protocol.handshake())
            tasks = [asyncio.create_task(self.outbox.run(), name=f"send-{self.session_id}"),
                     asyncio.create_task(self._process(), name=f"process-{self.session_id}")]
            receiver = asyncio.create_task(self._receive(), name=f"receive-{self.session_id}")
            tasks.append(receiver)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not receiver and not task.cancelled() and task.exception() is not None:
                    raise task.exception()
        except (ConnectionError, asyncio.CancelledError) as e:
            self.close_reason = f"connection lost ({type(e).__name__})"
            if isinstance(e, asyncio.CancelledError):
                raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Jobs run in order on the worker: once this one ran, no step of ours is running.
            await asyncio.shield(on_worker(self._release))
            if self.image_file is not None:
                self.image_file.unlink(missing_ok=True)
            if self.counters.skipped_messages > LOGGED_PROBLEMS:
                log.warning("%s: %d malformed messages skipped in all", self.peer,
                            self.counters.skipped_messages)

    async def _receive_image(self) -> bool:
        """The client's picture (kind 8) for this conversation; False after telling it why not."""
        from ..vis.image import ImageError
        from .vis import receive_image

        try:
            self.image_file = await receive_image(self.ws)
        except ImageError as e:
            self.close_reason = "bad image"
            log.info("%s: refused its image: %s", self.peer, e)
            await self.ws.send_bytes(protocol.error_message(str(e)))
            await self.ws.send_bytes(protocol.text_message(f"[{e}]"))
            await self.ws.close(code=CLOSE_BAD_IMAGE, message=b"bad image")
            return False
        self.persona = {**(self.persona or {}), "image": str(self.image_file)}
        return True

    async def _receive(self) -> None:
        import aiohttp

        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self._on_binary(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                self._skip(f"text message ({len(message.data)} characters): the protocol is binary")
            elif message.type == aiohttp.WSMsgType.ERROR:
                self.close_reason = f"websocket error: {self.ws.exception()}"
                break

    def _on_binary(self, data: bytes) -> None:
        if not data:
            return self._skip("empty message")
        if len(data) > MAX_MESSAGE_BYTES:
            return self._skip(f"oversized message ({len(data)} bytes, limit {MAX_MESSAGE_BYTES})")
        kind = data[0]
        if kind != protocol.AUDIO:
            return self._skip(f"unknown message kind {kind} ({len(data)} bytes)")
        pcms = self.audio_in.push(data[1:])
        now = time.monotonic()
        for pcm in pcms:
            before = self.inbox.received
            self.inbox.push(pcm, now)
            self.counters.frames_in += self.inbox.received - before

    def _skip(self, what: str) -> None:
        self.counters.skipped_messages += 1
        n = self.counters.skipped_messages
        if n <= LOGGED_PROBLEMS:
            log.warning("%s: skipped %s%s", self.peer, what,
                        " (further problems are only counted)" if n == LOGGED_PROBLEMS else "")

    async def _process(self) -> None:
        next_stats = time.monotonic() + 1.0
        while True:
            pcm, arrived = await self.inbox.next()
            t0 = time.monotonic()
            result = await on_worker(lambda: self._step(pcm))
            self.counters.frames_processed += 1
            self._step_ms.append((time.monotonic() - t0) * 1e3)
            if self.outbox.frames_in_flight() > self.max_lag_frames:
                self.counters.dropped_output += 1
            else:
                ogg = self.writer.append_pcm(result.pcm)
                if ogg:
                    self.outbox.put(protocol.audio_message(ogg), audio=True)
            if result.text:
                self.outbox.put(protocol.text_message(result.text))
                self.emit(TextEvent(result.text, (self.counters.frames_processed - 1) / FRAME_RATE,
                                    self.session_id))
            self._latency_ms.append((time.monotonic() - arrived) * 1e3)
            self.emit(LevelEvent(db(pcm), db(result.pcm)))
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + 1.0
                self.emit(self.stats())

    def stats(self) -> SessionStatsEvent:
        c, step_ms, latency_ms = self.counters, self._step_ms, self._latency_ms
        return SessionStatsEvent(
            session=self.session_id, peer=self.peer, frames=c.frames_processed,
            frames_received=c.frames_in,
            real_time_factor=float(np.mean(step_ms)) / FRAME_MS if step_ms else 0.0,
            step_ms=float(np.median(step_ms)) if step_ms else 0.0,
            server_latency_ms=float(np.mean(latency_ms)) if latency_ms else 0.0,
            dropped_input=self.inbox.dropped, dropped_output=c.dropped_output,
            skipped_messages=c.skipped_messages, frames_in_flight=self.outbox.frames_in_flight())
