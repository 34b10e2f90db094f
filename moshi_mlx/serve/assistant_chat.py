"""`/api/chat` with the assistant (`serve --llm` without `--model`): Kyutai's clients talk to the
local STT -> LLM -> TTS assistant in Kyutai's protocol.

In: the client's Opus pages (decoded here, on the event loop, as serve/session.py does) pushed into
the assistant's StreamSource; the end of a turn is the STT's (server VAD), and the user cuts in by
speaking. Extensions: a binary message of kind 2 (text) from the client is a typed turn;
`?turn_detection=none` turns the STT's end of turn and barge-in off (typed turns only).
Out: the assistant's speech, paced in real time (a virtual speaker: at most 0.32 s ahead, as a
local speaker), encoded to Opus here; its words as text messages as they are spoken. The MLX
worker is the session's while it runs (the /v1/audio endpoints answer 503), and it shares the one
assistant session of the server with /v1/realtime.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from .. import SAMPLE_RATE
from ..assistant.events import AssistantWord
from ..engine.events import ErrorEvent, StateEvent
from . import protocol
from .events import ClientEvent
from .ogg import OpusInput
from .session import MAX_MESSAGE_BYTES, Outbox

log = logging.getLogger("moshi_mlx.serve")


class AssistantChat:
    def __init__(self, ws, transport, api, peer: str, emit, server_vad: bool = True):
        import sphn

        self.server_vad = server_vad
        self.ws, self.api, self.peer, self.emit = ws, api, peer, emit
        self.loop = asyncio.get_running_loop()
        self.outbox = Outbox(ws, transport)
        self.audio_in = OpusInput(SAMPLE_RATE, self._skip)
        self.writer = sphn.OpusStreamWriter(SAMPLE_RATE)
        self.skipped = 0
        self.assistant = self.source = None
        self.close_reason = "client left"

    def _start(self) -> None:
        from ..assistant.options import AssistantOptions
        from ..assistant.stream_io import StreamAssistant, StreamSink, StreamSource

        o = self.api.options
        self.source = StreamSource()
        sink = StreamSink(self._frame_from_worker, paced=True)
        self.assistant = StreamAssistant(self._event_from_worker, self.api.assistant, self.source, sink,
                                         server_vad=self.server_vad)
        self.api.block_slots("a conversation with the assistant (/api/chat) is using the models: try again "
                             "when it ends")
        self.assistant.start(AssistantOptions(stt=o.stt, llm=o.llm, tts=o.tts, input_device=None,
                                              output_device=None, cache_dir=o.cache_dir,
                                              codec_backend=o.codec_backend))

    # -- the worker's side (MLX worker thread) --------------------------------------------------
    def _frame_from_worker(self, pcm) -> None:
        self.loop.call_soon_threadsafe(self._on_audio, np.array(pcm, np.float32))

    def _event_from_worker(self, event) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._on_event, event)

    # -- event loop ----------------------------------------------------------------------------
    def _on_audio(self, pcm) -> None:
        ogg = self.writer.append_pcm(pcm)
        if ogg:
            self.outbox.put(protocol.audio_message(ogg), audio=True)

    def _on_event(self, e) -> None:
        if isinstance(e, AssistantWord):
            self.outbox.put(protocol.text_message(e.word))
        elif isinstance(e, ErrorEvent):
            self.outbox.put(protocol.error_message(e.message.splitlines()[0] if e.message else e.kind))
        elif isinstance(e, StateEvent) and e.state == "stopped" and not self.ws.closed:
            self.close_reason = "the assistant stopped"
            asyncio.ensure_future(self.ws.close(code=1011, message=b"assistant stopped"))

    async def run(self) -> None:
        import aiohttp

        self._start()
        await self.ws.send_bytes(protocol.handshake())
        sender = asyncio.ensure_future(self.outbox.run())
        try:
            async for message in self.ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    self._on_binary(message.data)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    self.close_reason = f"websocket error: {self.ws.exception()}"
                    break
                if sender.done():
                    break
        finally:
            sender.cancel()
            self.api.slots_ending()
            await self.loop.run_in_executor(None, self.assistant.stop)
            self.api.block_slots(None)

    def _on_binary(self, data: bytes) -> None:
        if not data or len(data) > MAX_MESSAGE_BYTES:
            return self._skip(f"message of {len(data)} bytes")
        if data[0] == protocol.TEXT:  # our extension: a typed turn
            text = data[1:].decode("utf-8", "replace").strip()
            if text:
                self.assistant.send_text(text)
            return
        if data[0] != protocol.AUDIO:
            return self._skip(f"message kind {data[0]}")
        for pcm in self.audio_in.push(data[1:]):
            self.source.push(pcm)

    def _skip(self, what: str) -> None:
        self.skipped += 1
        if self.skipped <= 10:
            log.warning("%s: skipped %s", self.peer, what)


async def serve_assistant_chat(server, request, ws, peer: str):
    """The websocket (prepared) of a Kyutai client, when the server's /api/chat is the assistant."""
    api = server._api
    await asyncio.wait_for(api.assistant_ready.wait(), None)
    if api.assistant is None:
        return await server._refuse(ws, peer, "loading", f"The assistant could not be loaded: "
                                    f"{api.assistant_failed}")
    for _ in range(100):  # a client that reconnects at once: its old session ends first (5 s)
        if api.realtime_session is None:
            break
        await asyncio.sleep(0.05)
    if api.realtime_session is not None:
        return await server._refuse(ws, peer, "busy", "This server's assistant is already in a "
                                    "conversation; try again when it has finished.")
    vad = request.query.get("turn_detection", "server_vad") != "none"
    chat = api.realtime_session = AssistantChat(ws, request.transport, api, peer, server._emit, vad)
    server._sockets.add(ws)
    server._emit(ClientEvent("connected", peer))
    try:
        await chat.run()
    finally:
        api.realtime_session = None
        server._sockets.discard(ws)
        server._emit(ClientEvent("disconnected", peer, detail=chat.close_reason))
        if not ws.closed:
            await ws.close()
    return ws
