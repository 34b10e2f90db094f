"""OpenAI-compatible voice endpoints, served next to `/api/chat` by the same server:

    POST /v1/audio/transcriptions   speech to text (`serve --stt MODEL`)
    POST /v1/audio/speech           text to speech, streamed (`serve --tts MODEL`)
    GET  /v1/models, /v1/models/ID  what is loaded
    GET  /v1/realtime               the voice assistant (`serve --llm MODEL`), a websocket (realtime.py)

The models are loaded on the MLX worker before the server reports itself running; a request that
comes during the load waits for it. Every model serves one request at a time (see slots.py). Errors
are OpenAI's shape (errors.py). Who may call is the server's business (server.py's guard: Host,
Origin, token)."""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback

from ...errors import MoshiError
from ..session import on_worker
from .errors import ApiError, error_response
from .slots import ModelSlot

log = logging.getLogger("moshi_mlx.serve")


class Api:
    """The `/v1` routes of one running server (made in its event loop)."""

    def __init__(self, options, engines: dict):
        """`engines`: (kind, spec, cache_dir, codec) -> engine, kept by the ChatServer across
        restarts so that a model is loaded once."""
        self.options = options
        self._engines = engines
        self.slots = {kind: ModelSlot(kind, spec, options.api_queue)
                      for kind, spec in (("stt", options.stt), ("tts", options.tts)) if spec}
        self.assistant = None  # StreamModels once `--llm` is loaded (assistant/stream_io.py)
        self.assistant_failed: str | None = None
        self.assistant_ready = asyncio.Event()
        self.realtime_session = None  # the one /v1/realtime session running

    def block_slots(self, why: str | None) -> None:
        """While a session (/v1/realtime, /api/chat) holds the MLX worker, the /v1/audio requests
        get 503 `why`."""
        for slot in self.slots.values():
            slot.block(why)

    def slots_ending(self) -> None:
        """The blocking session's client has gone and it is being stopped: requests wait for it."""
        for slot in self.slots.values():
            if slot.blocked:
                slot.block(slot.blocked, ending=True)

    def tts_engine(self):
        slot = self.slots.get("tts")
        return slot.engine if slot is not None else None

    @property
    def max_upload_bytes(self) -> int:
        return int(self.options.max_upload_mb * 1e6)

    def add_routes(self, app) -> None:
        from . import models, realtime, speech, transcriptions

        routes = (("POST", "/v1/audio/transcriptions", transcriptions.transcribe),
                  ("POST", "/v1/audio/speech", speech.speak),
                  ("GET", "/v1/models", models.list_models),
                  ("GET", "/v1/models/{model:.+}", models.one_model),
                  ("GET", "/v1/realtime", realtime.realtime))
        for method, path, handler in routes:
            app.router.add_route(method, path, self._handler(handler))
        app.router.add_route("*", "/v1/{rest:.*}", self._handler(_not_found))

    def _handler(self, fn):
        async def handle(request):
            try:
                return await fn(request, self)
            except ApiError as e:
                return e.response()
            except ConnectionError:  # the client left: nobody reads an answer
                from aiohttp import web

                log.info("%s %s: the client left", request.method, request.path)
                return web.Response(status=400)
            except MoshiError as e:  # a user error from the engine (a voice, an unspeakable text)
                return error_response(400, str(e), code="invalid_request")
            except Exception as e:
                log.error("%s %s: %s\n%s", request.method, request.path, e, traceback.format_exc())
                return error_response(500, f"internal error: {type(e).__name__}: {e}")
        return handle

    def slot_for(self, kind: str, model) -> ModelSlot:
        from . import speech, transcriptions

        what = {"stt": ("speech to text", "--stt", transcriptions.OPENAI_MODELS),
                "tts": ("text to speech", "--tts", speech.OPENAI_MODELS)}[kind]
        slot = self.slots.get(kind)
        if slot is None:
            raise ApiError(404, f"this server has no {what[0]} model: start it with `serve {what[1]} "
                           "MODEL`", param="model", code="model_not_found")
        if model is not None and not isinstance(model, str):
            raise ApiError(400, "model must be a string", param="model", code="invalid_value")
        if model and model != slot.spec and model not in what[2]:
            raise ApiError(404, f"model {model!r} is not served here; {what[0]}: {slot.spec} (or one of "
                           f"OpenAI's names for it: {', '.join(what[2])})", param="model",
                           code="model_not_found")
        return slot

    async def load(self, emit, stop) -> tuple[str, Exception] | None:
        """Load every model (on the MLX worker); None, or (model, error) for one that failed."""
        from .engines import load_engine

        o = self.options
        for kind, slot in self.slots.items():
            key = (kind, slot.spec, o.cache_dir, o.codec_backend, o.tts_voice if kind == "tts" else None)
            engine = self._engines.get(key)
            if engine is None:
                cancel = threading.Event()
                job = on_worker(lambda: load_engine(kind, slot.spec, o, emit, cancel))
                waiter = asyncio.ensure_future(job)
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not waiter.done():  # stop() during a download: cancel it, wait for the worker
                    cancel.set()
                    await asyncio.wait([waiter])
                try:
                    engine = waiter.result()
                except Exception as e:
                    slot.failed_to_load(str(e))
                    return slot.spec, e
                if len(self._engines) >= 4:  # models of earlier starts with other options
                    self._engines.clear()
                self._engines[key] = engine
            slot.loaded(engine)
        if o.llm:
            return await self._load_assistant(emit)
        self.assistant_ready.set()
        return None

    async def _load_assistant(self, emit) -> tuple[str, Exception] | None:
        """The assistant's LLM (on the MLX worker), with the STT and TTS models loaded above."""
        from ...assistant.llm_loader import load_llm
        from ...assistant.stream_io import StreamModels
        from ...engine.events import ProgressEvent, StateEvent

        o = self.options

        def load():
            emit(StateEvent("loading", o.llm))
            llm = load_llm(o.llm, cache_dir=o.cache_dir,
                           progress=lambda d, t: emit(ProgressEvent("download", d, t, "bytes")))
            emit(StateEvent("ready", o.llm))
            return llm

        try:
            llm = await on_worker(load)
        except Exception as e:
            self.assistant_failed = str(e)
            self.assistant_ready.set()
            return o.llm, e
        stt, tts = self.slots.get("stt"), self.slots.get("tts")
        self.assistant = StreamModels(llm, stt.engine.model if stt else None, tts.engine.model if tts else None,
                                      tts.engine.default_voice if tts else None, o.cache_dir)
        self.assistant_ready.set()
        return None

    def fail_all(self, why: str) -> None:
        for slot in self.slots.values():
            if slot.engine is None:
                slot.failed_to_load(why)
        if not self.assistant_ready.is_set():
            self.assistant_failed = why
            self.assistant_ready.set()


async def _not_found(request, api):
    raise ApiError(404, f"{request.method} {request.path}: no such endpoint here (see "
                   "/v1/audio/transcriptions, /v1/audio/speech, /v1/models)", code="unknown_url")
