"""`/v1/realtime`: the local voice assistant (STT -> LLM -> TTS, `serve --llm`) over a websocket
speaking the GA subset of OpenAI's Realtime API that voice clients use (docs/local-api.md).

The assistant (assistant/stream_io.py) runs its frame loop on the MLX worker for the whole session;
this module only moves data: client audio is decoded here and pushed into its StreamSource (a
thread-safe queue), its events and audio frames come back through `loop.call_soon_threadsafe` into
an outbox that a sender task writes to the socket. The outbox drops the oldest audio for a client
that does not read (never the control events). While a session runs, the `/v1/audio` endpoints
answer 503 (their models' slots are blocked): the worker is the session's. One session at a time.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from dataclasses import dataclass

from ...assistant.events import AssistantReply, AssistantWord, PhaseEvent, UserCaption, UserTurn
from ...engine.events import ErrorEvent, StateEvent
from . import realtime_events as ev
from .errors import ApiError
from .realtime_session import apply_session_update

log = logging.getLogger("moshi_mlx.serve")

MAX_AUDIO_OUT = 400  # audio deltas (80 ms each, 32 s) waiting for a slow client; then drop-oldest
BUSY_GRACE_S = 5.0
WS_MAX_MESSAGE = 16 * 1024 * 1024
BUSY = "a realtime session is already running on this server (one at a time); try again when it ends"


@dataclass
class RealtimeSettings:
    session_id: str
    model: str
    stt: str | None
    audio_out: bool
    instructions: str | None = None
    voice: str | None = None
    server_vad: bool = True
    max_tokens: int = 300
    default_voice: str | None = None


class RealtimeSession:
    def __init__(self, ws, api, model: str):
        self.ws, self.api = ws, api
        self.loop = asyncio.get_running_loop()
        models = api.assistant
        self.settings = RealtimeSettings(ev.new_id("sess"), model, api.options.stt,
                                         audio_out=models.tts_model is not None,
                                         default_voice=models.default_voice)
        self.outbox: collections.deque = collections.deque()
        self.audio_queued = 0
        self.dropped_audio = 0
        self.wake = asyncio.Event()
        self.closed = False
        self.assistant = None
        self.source = self.sink = None
        self.pending_text: list[str] = []  # typed user items not answered yet
        self.appended = 0  # samples appended since the last commit
        self.commits = 0  # commits whose turn has not begun yet
        self.speech_item: str | None = None  # the user's item being spoken
        self.last_item: str | None = None
        self.response: dict | None = None  # the reply being made: id, item_id, text

    # -- the socket ---------------------------------------------------------------------------------
    def send(self, event: dict, audio: bool = False) -> None:
        if self.closed:
            return
        if audio:
            if self.audio_queued >= MAX_AUDIO_OUT:
                self._drop_oldest_audio()
            self.audio_queued += 1
        self.outbox.append((audio, event))
        self.wake.set()

    def _drop_oldest_audio(self) -> None:
        for i, (audio, _) in enumerate(self.outbox):
            if audio:
                del self.outbox[i]
                self.audio_queued -= 1
                self.dropped_audio += 1
                return

    def _drop_all_audio(self) -> None:
        kept = [(a, e) for a, e in self.outbox if not a]
        self.dropped_audio += len(self.outbox) - len(kept)
        self.outbox = collections.deque(kept)
        self.audio_queued = 0

    def error(self, message: str, code: str, param=None, kind="invalid_request_error", event_id=None):
        self.send(ev.error(message, code, param, kind, event_id))

    async def _sender(self) -> None:
        while True:
            while not self.outbox:
                self.wake.clear()
                await self.wake.wait()
            audio, event = self.outbox.popleft()
            if audio:
                self.audio_queued -= 1
            if event is None:
                return
            await self.ws.send_str(json.dumps(event))

    async def run(self) -> None:
        from aiohttp import WSMsgType

        sender = asyncio.ensure_future(self._sender())
        self.send(ev.event("session.created", session=ev.session_object(self.settings)))
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_message(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self.error("binary messages are not part of the Realtime API: send JSON events",
                               "invalid_message")
                if sender.done():
                    break
        finally:
            self.closed = True
            sender.cancel()
            await self._stop_assistant()

    # -- client events ------------------------------------------------------------------------------
    def _on_message(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            return self.error("the message is not JSON", "invalid_json")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return self.error("an event is a JSON object with a 'type'", "invalid_event")
        kind, event_id = event["type"], event.get("event_id")
        handler = HANDLERS.get(kind)
        if handler is None:
            return self.error(f"event type {kind!r} is not supported by this server (see docs/local-api.md, "
                              "Realtime)", "unsupported_event", "type", event_id=event_id)
        try:
            handler(self, event)
        except ev.EventError as e:
            self.error(e.message, e.code, e.param, e.kind, event_id)
        except Exception as e:  # a bug: the client hears of it, the session goes on
            log.exception("realtime event %s", kind)
            self.error(f"internal error: {type(e).__name__}: {e}", "internal_error", kind="server_error",
                       event_id=event_id)

    def on_session_update(self, event) -> None:
        problems = apply_session_update(self, event.get("session"))
        self.send(ev.event("session.updated", session=ev.session_object(self.settings)))
        for message, param in problems:
            self.error(message, "unsupported_value", param, event_id=event.get("event_id"))

    def on_append(self, event) -> None:
        if self.settings.stt is None:
            raise ev.EventError("this server has no speech to text model (start it with --stt): send "
                                "typed turns (conversation.item.create)", "no_stt_model")
        pcm = ev.pcm_from_b64(event.get("audio"))
        self._ensure_started()
        self.appended += len(pcm)
        self.source.push(pcm)

    def on_commit(self, event) -> None:
        if self.appended == 0:
            raise ev.EventError("the input audio buffer is empty: append audio before a commit",
                                "input_audio_buffer_commit_empty")
        self.appended = 0
        self.commits += 1
        self.source.commit()

    def on_clear(self, event) -> None:
        self.appended = 0
        if self.source is not None:
            self.source.clear()
        self.send(ev.event("input_audio_buffer.cleared"))

    def on_item_create(self, event) -> None:
        text = ev.typed_text(event.get("item"))
        item_id = (event.get("item") or {}).get("id") or ev.new_id("item")
        self.pending_text.append(text)
        item = ev.user_item(item_id, text, audio=False)
        self.send(ev.event("conversation.item.added", previous_item_id=self.last_item, item=item))
        self.send(ev.event("conversation.item.done", previous_item_id=self.last_item, item=item))
        self.last_item = item_id

    def on_response_create(self, event) -> None:
        params = event.get("response") or {}
        allowed = {"output_modalities", "conversation", "metadata"}
        unknown = sorted(set(params) - allowed) if isinstance(params, dict) else ["response"]
        if unknown:
            self.error(f"response parameters not supported here (ignored): {', '.join(unknown)}",
                       "unsupported_value", "response", event_id=event.get("event_id"))
        if self.pending_text:
            text, self.pending_text = " ".join(self.pending_text), []
            self._ensure_started()
            self.assistant.send_text(text)
        elif self.commits or self.response is not None:
            return  # the committed turn's response is made (or being made): the same one
        else:
            raise ev.EventError("nothing to respond to: add a user message (conversation.item.create) or "
                                "commit audio first", "nothing_to_respond")

    def on_response_cancel(self, event) -> None:
        if self.response is None:
            raise ev.EventError("there is no active response to cancel", "response_cancel_not_active")
        self.response["reason"] = "client_cancelled"
        self.assistant.interrupt()

    # -- the assistant ------------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self.assistant is not None:
            if not self.assistant.running:
                raise ev.EventError("the assistant session ended; open a new connection", "session_ended",
                                    kind="server_error")
            return
        from ...assistant.options import AssistantOptions
        from ...assistant.stream_io import StreamAssistant, StreamSink, StreamSource

        s, o = self.settings, self.api.options
        self.source = StreamSource()
        self.sink = StreamSink(self._frame_from_worker, self._clear_from_worker)
        self.assistant = StreamAssistant(self._event_from_worker, self.api.assistant, self.source, self.sink,
                                         server_vad=s.server_vad)
        self.api.block_slots("a realtime session (/v1/realtime) is using the models: try again when it ends")
        self.assistant.start(AssistantOptions(stt=o.stt, llm=o.llm, tts=o.tts, voice=s.voice,
                                              system=s.instructions or None, max_tokens=s.max_tokens,
                                              input_device=None, output_device=None,
                                              cache_dir=o.cache_dir, codec_backend=o.codec_backend))

    async def _stop_assistant(self) -> None:
        if self.assistant is not None:
            self.api.slots_ending()
            await self.loop.run_in_executor(None, self.assistant.stop)
        self.api.block_slots(None)

    def _frame_from_worker(self, pcm) -> None:  # MLX worker thread
        data = ev.pcm16_b64(pcm)
        self.loop.call_soon_threadsafe(self._on_audio, data)

    def _clear_from_worker(self) -> None:  # MLX worker thread
        self.loop.call_soon_threadsafe(self._drop_all_audio)

    def _event_from_worker(self, event) -> None:  # MLX worker thread
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._on_event, event)

    # -- assistant events -> server events (event loop) ----------------------------------------------
    def _on_audio(self, data: str) -> None:
        r = self.response
        if r is not None:
            self.send(ev.event("response.output_audio.delta", response_id=r["id"], item_id=r["item_id"],
                               output_index=0, content_index=0, delta=data), audio=True)

    def _on_event(self, e) -> None:
        if isinstance(e, UserCaption):
            self._speech_started(e.time_s)
            self.send(ev.event("conversation.item.input_audio_transcription.delta", item_id=self.speech_item,
                               content_index=0, delta=e.text))
        elif isinstance(e, UserTurn) and not e.typed:
            self._speech_started(e.time_s)
            item_id, self.speech_item = self.speech_item, None
            self.commits = max(0, self.commits - 1)
            ms = int(e.time_s * 1000)
            self.send(ev.event("input_audio_buffer.speech_stopped", audio_end_ms=ms, item_id=item_id))
            self.send(ev.event("input_audio_buffer.committed", previous_item_id=self.last_item, item_id=item_id))
            self.send(ev.event("conversation.item.input_audio_transcription.completed", item_id=item_id,
                               content_index=0, transcript=e.text))
            self.last_item = item_id
        elif isinstance(e, PhaseEvent) and e.phase == "thinking":
            self._response_created()
        elif isinstance(e, AssistantWord) and self.response is not None:
            self.response["text"] += e.word
            r, kind = self.response, ("response.output_audio_transcript.delta" if self.settings.audio_out
                                      else "response.output_text.delta")
            self.send(ev.event(kind, response_id=r["id"], item_id=r["item_id"], output_index=0,
                               content_index=0, delta=e.word))
        elif isinstance(e, AssistantReply) and self.response is not None:
            self._response_done(e)
        elif isinstance(e, ErrorEvent):
            self.error(e.message.splitlines()[0] if e.message else e.kind, e.kind, kind="server_error")
        elif isinstance(e, StateEvent) and e.state == "stopped" and not self.closed:
            self.error("the assistant session ended", "session_ended", kind="server_error")
            asyncio.ensure_future(self.ws.close(code=1011, message=b"assistant stopped"))

    def _speech_started(self, time_s: float) -> None:
        if self.speech_item is None:
            self.speech_item = ev.new_id("item")
            self.send(ev.event("input_audio_buffer.speech_started", audio_start_ms=int(time_s * 1000),
                               item_id=self.speech_item))

    def _response_created(self) -> None:
        self.response = r = {"id": ev.new_id("resp"), "item_id": ev.new_id("item"), "text": "", "reason": None}
        self.send(ev.event("response.created", response=ev.response_object(r["id"], "in_progress")))
        item = ev.assistant_item(r["item_id"], "", self.settings.audio_out, "in_progress")
        self.send(ev.event("response.output_item.added", response_id=r["id"], output_index=0, item=item))

    def _response_done(self, e: AssistantReply) -> None:
        r, self.response = self.response, None
        heard = e.heard if e.interrupted else (e.heard or r["text"].strip())
        status = "cancelled" if e.interrupted else "completed"
        common = dict(response_id=r["id"], item_id=r["item_id"], output_index=0, content_index=0)
        if self.settings.audio_out:
            self.send(ev.event("response.output_audio.done", **common))
            self.send(ev.event("response.output_audio_transcript.done", transcript=heard, **common))
        else:
            self.send(ev.event("response.output_text.done", text=heard, **common))
        item = ev.assistant_item(r["item_id"], heard, self.settings.audio_out,
                                 "incomplete" if e.interrupted else "completed")
        self.send(ev.event("response.output_item.done", response_id=r["id"], output_index=0, item=item))
        self.send(ev.event("response.done", response=ev.response_object(
            r["id"], status, item, r["reason"] or "turn_detected")))
        self.last_item = r["item_id"]


HANDLERS = {"session.update": RealtimeSession.on_session_update,
            "input_audio_buffer.append": RealtimeSession.on_append,
            "input_audio_buffer.commit": RealtimeSession.on_commit,
            "input_audio_buffer.clear": RealtimeSession.on_clear,
            "conversation.item.create": RealtimeSession.on_item_create,
            "response.create": RealtimeSession.on_response_create,
            "response.cancel": RealtimeSession.on_response_cancel}


async def realtime(request, api):
    """GET /v1/realtime (a websocket). Who may connect was checked by the server's guard."""
    from aiohttp import web

    if not api.options.llm:
        raise ApiError(404, "this server has no assistant: start it with `serve --llm MODEL` (and --stt, "
                       "--tts for speech)", code="model_not_found")
    ws = web.WebSocketResponse(compress=False, max_msg_size=WS_MAX_MESSAGE, heartbeat=20.0)
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "/v1/realtime is a websocket", code="invalid_request")
    await api.assistant_ready.wait()
    if api.assistant is None:
        raise ApiError(503, f"the assistant's model could not be loaded: {api.assistant_failed}",
                       code="model_not_loaded")
    await ws.prepare(request)
    for _ in range(int(BUSY_GRACE_S / 0.05)):  # a client that reconnects at once: its old session ends
        if api.realtime_session is None:
            break
        await asyncio.sleep(0.05)
    if api.realtime_session is not None:
        await ws.send_str(json.dumps(ev.error(BUSY, "session_busy", kind="server_error")))
        await ws.close(code=1013, message=b"busy")
        return ws
    session = api.realtime_session = RealtimeSession(ws, api, request.query.get("model") or api.options.llm)
    try:
        await session.run()
    finally:
        api.realtime_session = None
        if not ws.closed:
            await ws.close()
    return ws
