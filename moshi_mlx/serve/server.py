"""`ChatServer`: Kyutai's websocket protocol served from our engine, in the background.

    server = ChatServer(listener)                 # listener(event), see serve/events.py
    server.start(ServeOptions(model="demo"))      # returns at once; raises ServeConfigError
    server.wait_running(60)                       # listening and the model is loaded
    server.urls, server.token                     # what other devices connect to
    server.stop()                                 # blocking, idempotent; the model stays loaded
    server.hold(reason) / server.release()        # refuse new clients while the model is used here

The server's event loop runs in its own thread and never runs MLX: loading, warm-up and every frame
go to the process-wide MLX worker thread (moshi_mlx/engine/mlx_worker.py). One conversation at a
time: a second client is refused with a message saying so (see `refuse`). No Qt here: the desktop
app drives this class as the terminal does, sharing its conversation engine's ModelCache (one copy of
the model for both) and holding the server while one of its own sessions uses the MLX worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
import weakref
from typing import Callable

from ..engine.conversation import ModelCache
from ..engine.events import ErrorEvent, StateEvent
from . import security
from .addresses import bound_port, bracket, reachable_hosts
from .chat_route import ChatRoute
from .loading import load_error
from .options import ServeOptions
from .pages import HttpPages
from .persona import check_persona
from .session import ChatSession, on_worker

log = logging.getLogger("moshi_mlx.serve")



class ChatServer(ChatRoute, HttpPages):
    def __init__(self, listener: Callable[[object], None] | None = None, models: ModelCache | None = None):
        """`models`: a ModelCache to load through, e.g. a ConversationEngine's (`engine.models`), so
        that the server and that engine keep one copy of the model (both use it on the MLX worker
        thread only; never at the same time: see hold())."""
        self._listener = listener or (lambda event: None)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running = threading.Event()
        self._model = None  # the LoadedModel being served
        self._given = None  # one handed to start()
        self._models = models if models is not None else ModelCache()  # kept for the next start()
        self._hold_lock = threading.Lock()
        self._held: str | None = None  # why new clients are refused (see hold())
        self._options: ServeOptions | None = None
        self._session: ChatSession | None = None
        self._sessions = 0
        self._sockets: set = set()
        self.live_sessions: weakref.WeakSet = weakref.WeakSet()  # to check that all is freed
        self._engines: dict = {}  # the /v1 endpoints' models, kept for the next start()
        self._api = None
        self.port: int | None = None
        self.warnings: list[str] = []

    # ---- public API (any thread) ----

    def start(self, options: ServeOptions, model=None) -> None:
        """Listen and load the model in the background; returns at once. `model`: an already
        loaded `LoadedModel` to serve (nothing is loaded then). Raises ServeConfigError for options
        that cannot work, RuntimeError if already started."""
        if self.running:
            raise RuntimeError("the server is already running: stop() it first")
        if not 0 <= options.port <= 65535:
            raise security.ServeConfigError(f"--port {options.port}: a port is from 0 to 65535")
        if not options.model_names:
            raise security.ServeConfigError(
                "serve needs a model: --model for conversations (/api/chat), --stt for "
                "/v1/audio/transcriptions, --tts for /v1/audio/speech, --llm for the assistant "
                "(/v1/realtime)")
        if options.llm and options.model:
            raise security.ServeConfigError(
                "--llm (the assistant) and --model (a speech-to-speech model) both want the MLX worker "
                "for whole conversations: serve one of them")
        if options.max_lag_frames < 1:
            raise security.ServeConfigError(f"--max-lag-frames {options.max_lag_frames}: at least 1")
        self.warnings = security.exposure_warnings(options.host, options.token,
                                                   options.ssl_dir is not None)
        tls = security.ssl_context(options.ssl_dir) if options.ssl_dir else None
        static = security.static_root(options.static_dir) if options.static_dir else None
        self._given = model
        self._options = options
        self._running.clear()
        self.port = None
        self._thread = threading.Thread(target=self._thread_main, args=(options, tls, static),
                                        name="moshi-serve", daemon=True)
        self._thread.start()

    def wait_running(self, timeout: float | None = None) -> bool:
        """True once listening with the model loaded; False on timeout or as soon as it stopped
        (a load error does not make the caller wait for the whole timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._running.wait(0.05):
            thread = self._thread
            if thread is None or not thread.is_alive():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return self.running

    def stop(self, timeout: float = 15.0) -> None:
        """Close the connections, stop listening, wait. Idempotent. The model stays loaded and is
        served again by the next start() with the same model."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def hang_up(self) -> None:
        """End the current conversation (the client sees the websocket close); the server goes on."""
        loop, session = self._loop, self._session
        if loop is not None and session is not None and not loop.is_closed():
            session.close_reason = "hung up"
            asyncio.run_coroutine_threadsafe(session.ws.close(code=1000, message=b"hung up"), loop)

    def hold(self, reason: str) -> bool:
        """Refuse new clients, telling them `reason` (the app's own session is using the MLX
        worker). False, and nothing held, when a conversation is in progress. Any thread."""
        with self._hold_lock:
            if self._session is not None:
                return False
            self._held = reason
            return True

    def release(self) -> None:
        """Let clients in again after hold()."""
        with self._hold_lock:
            self._held = None

    def set_persona(self, voice: str | None, role: str | None) -> None:
        """The server's persona (PersonaPlex) for the conversations that start from now on; one
        under way keeps its own. Checked on the MLX worker first, once the model is loaded: raises
        PersonaError or ConfigError and keeps the old one. Any thread but the MLX worker's."""
        from dataclasses import replace

        from ..engine import mlx_worker

        if self._options is None:
            raise RuntimeError("set_persona: the server was not started")
        options = replace(self._options, voice=voice or None, role=role or None)
        model = self._model
        if options.persona and model is not None:
            mlx_worker.submit(lambda: check_persona(model, options.sampling, options.persona)).result()
        self._options = options

    @property
    def model(self):
        """The LoadedModel being served (None until loaded)."""
        return self._model

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def token(self) -> str | None:
        return self._options.token if self._options else None

    @property
    def connected(self) -> str | None:
        """The address of the device in conversation, or None."""
        return self._session.peer if self._session is not None else None

    @property
    def urls(self) -> list[str]:
        """Base URLs other devices can use (the websocket is at <url>/api/chat)."""
        if self._options is None or self.port is None:
            return []
        scheme = "https" if self._options.ssl_dir else "http"
        hosts = reachable_hosts(self._options.host)
        return [f"{scheme}://{bracket(h)}:{self.port}" for h in hosts]

    def browser_url(self, base: str) -> str:
        """`base` with the token, for a browser (Kyutai's web UI) or a QR code."""
        return f"{base}/?token={self.token}" if self.token else f"{base}/"

    # ---- the server thread ----

    def _emit(self, event) -> None:
        try:
            self._listener(event)
        except Exception:  # a broken listener must not stop the server
            traceback.print_exc()

    def _thread_main(self, options, tls, static) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(options, tls, static))
        except Exception as e:  # a bug: say so, do not vanish
            self._emit(ErrorEvent("internal", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
        finally:
            self._running.clear()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._emit(StateEvent("stopped"))

    async def _serve(self, options: ServeOptions, tls, static) -> None:
        from aiohttp import web

        self._stop = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        from .openai import Api

        self._emit(StateEvent("loading", " ".join(options.model_names)))
        guard = web.middleware(lambda request, handler: self._guard(request, handler))
        app = web.Application(middlewares=[guard])
        self._api = Api(options, self._engines)
        self._api.add_routes(app)
        app.router.add_get("/api/chat", self._chat)
        app.router.add_get("/", self._static if static else self._info)
        if static:
            app.router.add_get("/{path:.*}", self._static)
        self._static_root = static
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, options.host, options.port, ssl_context=tls)
            try:
                await site.start()
            except OSError as e:
                self._emit(ErrorEvent("bind", f"cannot listen on {options.host}:{options.port}: "
                                      f"{e.strerror or e}"))
                return
            self.port = bound_port(runner, options.port)
            if not await self._load(options):
                return
            self._emit(StateEvent("running", " ".join(self.urls)))
            self._running.set()
            await self._stop.wait()
            self._emit(StateEvent("stopping"))
            self._running.clear()
            if self._session is not None:
                self._session.close_reason = "server stopping"
            for ws in list(self._sockets):
                await ws.close(code=1001, message=b"server stopping")
        finally:
            await runner.cleanup()

    async def _load(self, options: ServeOptions) -> bool:
        if options.model and not await self._load_chat(options):
            self._api.fail_all("the server could not start")
            return False
        failed = await self._api.load(self._emit, self._stop)
        if failed is not None:
            self._api.fail_all("the server could not start")
            self._emit(load_error(failed[1], failed[0]))
            return False
        return not self._stop.is_set()

    async def _load_chat(self, options: ServeOptions) -> bool:
        self._model = given = self._given
        if given is not None:
            if options.persona:  # checked here as the warm-up checks it for a model loaded here
                try:
                    await on_worker(lambda: check_persona(given, options.sampling, options.persona))
                except Exception as e:
                    self._emit(load_error(e, options.model))
                    return False
            self._emit(StateEvent("ready", given.files.name))
            return True
        stop = threading.Event()
        waiter = asyncio.ensure_future(on_worker(lambda: self._load_on_worker(options, stop)))
        stopper = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():  # stop() during a download: cancel it, wait for the worker
            stop.set()
            await asyncio.wait([waiter])
        stopper.cancel()
        try:
            self._model = waiter.result()
        except Exception as e:
            self._emit(load_error(e, options.model))
            return False
        return not self._stop.is_set()

    def _load_on_worker(self, options: ServeOptions, cancel: threading.Event):
        from .loading import load_for_serving

        return load_for_serving(options, self._models, self._emit, cancel)
