"""Kyutai's `/api/chat` websocket route of ChatServer (a mixin: the server's state lives in
serve/server.py): a client's query checked (sampling, persona, MoshiVis picture), one conversation
at a time, refusals said in every way Kyutai's clients show them."""

from __future__ import annotations

import asyncio
import logging
import traceback

from ..engine.events import ErrorEvent
from ..errors import PersonaError
from . import protocol, security
from .events import ClientEvent
from .persona import check_persona, persona_from_query
from .session import ChatSession, on_worker
from .vis import vis_from_query

log = logging.getLogger("moshi_mlx.serve")

WS_MAX_MESSAGE = 16 * 1024 * 1024  # aiohttp closes the connection beyond this (1009)
HEARTBEAT_S = 20.0  # websocket pings: a client gone without a word is noticed
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later"
BUSY_GRACE_S = 2.0  # a client that reconnects at once may arrive before its old session ended
BUSY_MESSAGE = ("This Moshi server is already in a conversation with another device; "
                "try again when it has finished.")


class ChatRoute:
    """`/api/chat` for ChatServer (event loop side)."""


    async def _chat(self, request):
        from aiohttp import web

        peer = request.remote or "?"
        if not self._authorized(request):
            return self._unauthorized(request)
        if not self._options.model and not self._options.llm:
            return web.Response(status=404, text="404: this server has no conversation model (start "
                                "it with --model, or --llm for the assistant)\n")
        if not security.origin_allowed(request):
            self._emit(ClientEvent("refused", peer, detail="bad request"))
            return web.Response(status=403, text=f"403: a page from {request.headers['Origin']} may "
                                "not open a conversation on this server\n")
        if not self._options.model:  # the assistant (serve --llm) in Kyutai's protocol
            from .assistant_chat import serve_assistant_chat

            ws = web.WebSocketResponse(compress=False, max_msg_size=WS_MAX_MESSAGE, heartbeat=HEARTBEAT_S)
            if not ws.can_prepare(request).ok:
                return web.Response(status=400, text="400: /api/chat is a websocket\n")
            await ws.prepare(request)
            return await serve_assistant_chat(self, request, ws, peer)
        try:
            params = protocol.params_from_query(request.query, self._options.sampling)
            kind_options = await self._persona(request.query, params)
            image_options, image_first, notes = vis_from_query(request.query, self._model, self._options.image)
            kind_options = kind_options or image_options
            params.notes.extend(notes)
        except (protocol.QueryError, PersonaError) as e:
            self._emit(ClientEvent("refused", peer, detail="bad request"))
            return web.Response(status=400, text=f"400: {e}\n")
        ws = web.WebSocketResponse(compress=False, max_msg_size=WS_MAX_MESSAGE,
                                   heartbeat=HEARTBEAT_S)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="400: /api/chat is a websocket\n")
        await ws.prepare(request)
        if self._stop.is_set():
            return await self._refuse(ws, peer, "stopping", "This Moshi server is stopping.")
        if self._model is None or not self._running.is_set():
            return await self._refuse(ws, peer, "loading", "The model is still loading; try again "
                                      "in a moment.")
        if self._session is not None:
            try:
                await asyncio.wait_for(self._idle.wait(), BUSY_GRACE_S)
            except asyncio.TimeoutError:
                return await self._refuse(ws, peer, "busy", BUSY_MESSAGE)
            if self._session is not None:  # another one got in first
                return await self._refuse(ws, peer, "busy", BUSY_MESSAGE)
        for note in params.notes:
            log.info("%s: %s", peer, note)
        with self._hold_lock:  # hold() and a client arriving: one of them wins, never both
            held = self._held
            if held is None:
                self._sessions += 1
                session = self._session = ChatSession(
                    ws, request.transport, self._model, params.sampling, session_id=self._sessions,
                    peer=peer, max_lag_frames=self._options.max_lag_frames, emit=self._emit,
                    persona=kind_options, image_first=image_first)
        if held is not None:
            return await self._refuse(ws, peer, "held", held)
        self._idle.clear()
        self._sockets.add(ws)
        self.live_sessions.add(session)
        self._emit(ClientEvent("connected", peer, session.session_id))
        log.info("%s connected (conversation %d)", peer, session.session_id)
        try:
            await session.run()
        except Exception as e:
            self._emit(ErrorEvent("internal", f"conversation with {peer}: {type(e).__name__}: {e}\n"
                                  f"{traceback.format_exc()}", fatal=False))
        finally:
            self._sockets.discard(ws)
            self._session = None
            self._idle.set()
            stats = session.stats()
            self._emit(stats)  # the conversation's final counts
            self._emit(ClientEvent("disconnected", peer, session.session_id, session.close_reason))
            log.info("%s disconnected (%s): %d frames, %d dropped in, %d dropped out, %d skipped "
                     "messages", peer, session.close_reason, stats.frames, stats.dropped_input,
                     stats.dropped_output, stats.skipped_messages)
            if not ws.closed:
                await ws.close()
        return ws

    async def _persona(self, query, params) -> dict | None:
        """This conversation's persona (PersonaPlex): the server's, or the one the URL asks for,
        checked on the MLX worker. Raises QueryError or PersonaError (HTTP 400)."""
        model = self._model
        persona, notes = persona_from_query(query, self._options.persona, model.kind if model else None)
        params.notes.extend(notes)
        if not persona or model is None:
            return None
        return await on_worker(lambda: check_persona(model, params.sampling, persona))

    async def _refuse(self, ws, peer: str, reason: str, message: str):
        """Tell the client why in every way Kyutai's clients show something: an error message (its
        web UI), a text message (its Python client prints only text), and the close reason."""
        self._emit(ClientEvent("refused", peer, detail=reason))
        log.info("%s refused: %s", peer, reason)
        try:
            await ws.send_bytes(protocol.error_message(message))
            await ws.send_bytes(protocol.text_message(f"[{message}]"))
            await ws.close(code=CLOSE_TRY_AGAIN, message=reason.encode())
        except ConnectionError:
            pass
        return ws
