""""Let other devices connect": Kyutai's clients (its web page on a phone or another computer,
`python -m moshi.client`) talk with Talk's model on this Mac, through moshi_mlx.serve's ChatServer.

The server has its own thread and event loop, and its frames run on the MLX worker; starting and
stopping it (stop waits until the port is free) happen on an EngineBridge control thread, and its
events reach the UI thread as a queued Qt signal. It loads Talk's model through the ModelCache of
Talk's own engine: one copy of the model for both, loaded once. The app's sessions and a served
conversation both need the one MLX worker, so they never run together: a mode's Start calls
`hold()` (so does a file transcription), which fails (the user is told) while a device is
connected; until they are done, the server refuses clients, telling them why.
"""

from __future__ import annotations

from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from .engine_bridge import EngineBridge
from .messages import for_error
from .modes.base import IDLE, model_display_name
from .modes.live_mode import progress_text

OFF, STARTING, READY, CONNECTED = "off", "starting", "ready", "connected"
LOCAL_HOST, NETWORK_HOST = "127.0.0.1", "0.0.0.0"
PERSONA_SETTLE_MS = 800  # Talk's persona is served once it has not changed for this long
_REFUSED = {"unauthorized": "without the right token", "busy": "another device is connected",
            "held": "a session runs in the app", "loading": "the model is still loading",
            "bad request": "a request the server does not understand"}


def _off_text(message) -> str:
    return f"Off: {message.title[:1].lower()}{message.title[1:]}"


@dataclass(frozen=True)
class Urls:
    """The addresses to open (token included), sent by the server's thread once it listens."""

    urls: tuple[str, ...]


class Sharing(QObject):
    changed = Signal()  # state, status, addresses or the connected device changed

    def __init__(self, shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.backend = shell.backend
        self.state = OFF
        self.status = "Off"
        self.urls: list[str] = []
        self.peer: str | None = None  # the address of the device in conversation
        self.shares_talk_model = False  # False: the server loaded a copy of its own
        self.model = ""  # the spec being served
        self._restart = False  # Talk's model changed: serve the new one once the server stopped
        self._server = None
        self._hold_reason: str | None = None
        self._holders: set = set()  # what holds the server: modes in a session, file jobs
        self._failed = False  # a fatal error stopped the server: its status stays after "stopped"
        self._closed = False  # the app quits: nothing starts any more
        self.bridge = EngineBridge(self.backend, self, make_engine=self._make_server)
        self.bridge.event.connect(self._on_event)
        self.bridge.start_failed.connect(self._on_failed)
        for mode in shell.modes.values():  # a session's end (idle) lets devices in again
            mode.state_changed.connect(lambda state, m=mode: state == IDLE and self.done(m))
        shell.modes["talk"].model_changed.connect(self._talk_model_changed)
        # Talk's persona (PersonaPlex) is the server's: a change applies to the next conversation,
        # once the typing has paused (each change is checked on the MLX worker)
        self._served_persona: dict = {}
        self._persona_timer = QTimer(self, singleShot=True, interval=PERSONA_SETTLE_MS)
        self._persona_timer.timeout.connect(self._apply_persona)
        shell.modes["talk"].persona.changed.connect(self._persona_timer.start)

    @property
    def active(self) -> bool:
        return self.state != OFF

    # -- on, off, settings (UI thread) ----------------------------------------------------------
    def turn_on(self, confirmed: bool = False) -> bool:
        """Serve Talk's model with the saved settings; False when it cannot (the user was told)."""
        if self.active or self._closed:
            return False
        talk = self.shell.modes["talk"]
        model = talk.startable_model(confirmed, retry=lambda: self.turn_on(confirmed=True),
                                     microphone=False)
        if not model:  # none yet, not downloaded, another kind, or a memory warning to answer
            self._set(OFF, "Off: Talk's model is needed first")
            return False
        s = self.shell.settings
        if s.sharing_network and not s.sharing_token:  # the network is never open without a token
            self.shell.update_settings(sharing_token=self.backend.new_token())
            s = self.shell.settings
        options = dict(model=model, host=NETWORK_HOST if s.sharing_network else LOCAL_HOST,
                       port=s.sharing_port, token=s.sharing_token if s.sharing_network else None,
                       ssl_dir=s.sharing_tls_dir or None, static_dir=s.sharing_web_dir or None,
                       cache_dir=s.cache_dir or None,
                       sampling=dict(text_temperature=s.text_temperature, text_top_k=s.text_top_k,
                                     audio_temperature=s.audio_temperature,
                                     audio_top_k=s.audio_top_k, seed=s.seed),
                       **self._talk_persona())  # PersonaPlex: Talk's voice and role
        self._served_persona = self._talk_persona()
        self.shell.update_settings(sharing=True)
        self.urls, self.peer, self.model = [], None, model
        self._set(STARTING, f"Starting with {model_display_name(self.backend, model)}…")
        self.bridge.call(lambda server: self._start_server(server, options)).add_done_callback(
            self._check_call)
        return True

    def turn_off(self, remember: bool = True) -> None:
        """Stop serving (connections closed, port freed, in the background)."""
        if remember:  # the user's choice (not a restart for Talk's new model)
            self._restart = False
            self.shell.update_settings(sharing=False)
        if self.active:
            self._set(self.state, "Stopping…")
            self.bridge.stop()

    @Slot(str)
    def _talk_model_changed(self, spec: str) -> None:
        """Sharing serves Talk's model: a new one is served from now on (a device in conversation
        is disconnected)."""
        if self.active and spec != self.model:
            self._restart = True
            self.turn_off(remember=False)

    def _talk_persona(self) -> dict:
        return self.shell.modes["talk"].persona.kind_options() or {}

    @Slot()
    def _apply_persona(self) -> None:
        """Serve Talk's persona as it is now (checked first; a bad one is said, the old one kept)."""
        persona = self._talk_persona()
        if self.state not in (READY, CONNECTED) or persona == self._served_persona:
            return
        self._served_persona = persona
        voice, role = persona.get("voice"), persona.get("role")
        self.bridge.call(lambda server: self._set_persona(server, voice, role)).add_done_callback(
            self._check_call)

    def configure(self, **changes) -> None:
        """Save sharing settings (port, network, TLS and web page folders) edited while it is off."""
        self.shell.update_settings(**changes)
        if self.shell.settings.sharing_network and not self.shell.settings.sharing_token:
            self.regenerate_token()
        self.changed.emit()

    def regenerate_token(self) -> None:
        """A new secret: devices that knew the old one must scan the new address."""
        self.shell.update_settings(sharing_token=self.backend.new_token())
        self.changed.emit()

    def shutdown(self) -> None:
        """The app quits: stop the server and wait until the port is free."""
        self._closed, self._restart = True, False
        self.bridge.shutdown()

    # -- the app's own sessions -------------------------------------------------------------------
    def hold(self, label: str, holder) -> bool:
        """`holder` (a mode starting a session, a file job) of the mode named `label` is about to
        use the MLX worker: refuse new clients until `done(holder)` (a mode is done when it goes
        idle). False, with a message to the user, when a device is in conversation."""
        reason = (f"Moshi is in use on this Mac (the {label} mode); try again when it has "
                  "finished.")
        held_before = self._hold_reason
        self._hold_reason = reason  # before reading _server: a server made meanwhile holds too
        server = self._server
        if server is not None and not server.hold(reason):
            self._hold_reason = held_before
            self.shell.messages.show(for_error("sharing_busy", (
                f"A device at {server.connected or self.peer or 'another address'} is in a "
                f"conversation with Moshi (Let other devices connect): {label} cannot start now.")))
            return False
        self._holders.add(holder)
        return True

    def done(self, holder) -> None:
        """`holder` no longer uses the MLX worker; devices are let in once nothing holds."""
        self._holders.discard(holder)
        if not self._holders and self._hold_reason is not None:
            self._hold_reason = None
            if self._server is not None:
                self._server.release()

    # -- control thread -------------------------------------------------------------------------
    def _make_server(self, listener):
        models = self._talk_models()
        self.shares_talk_model = models is not None

        def relay(event) -> None:  # the server's threads
            if getattr(event, "state", None) == "running":
                listener(Urls(tuple(server.browser_url(u) for u in server.urls)))
            listener(event)

        server = self.backend.make_server(relay, models=models)
        self._server = server  # before _start_server reads _hold_reason (see hold())
        return server

    def _talk_models(self):
        """The ModelCache of Talk's engine (None for an engine without one: a copy is loaded)."""
        talk = self.shell.modes["talk"]
        try:
            return talk.bridge.call(lambda engine: getattr(engine, "models", None)).result(30)
        except (FutureTimeout, RuntimeError):  # Talk's control thread is stuck or shut down
            return None

    def _check_call(self, future) -> None:
        error = future.exception()
        if error is not None:  # making the server failed (a bug): said, not swallowed
            self.bridge.start_failed.emit("internal", f"{type(error).__name__}: {error}")

    def _set_persona(self, server, voice, role) -> None:
        from moshi_mlx.engine.events import ErrorEvent
        from moshi_mlx.errors import MoshiError

        try:
            server.set_persona(voice, role)
        except MoshiError as e:  # the voice or the role cannot be used: Talk's page says it too
            self.bridge.event.emit(ErrorEvent("persona", f"not served: {e}", fatal=False))

    def _start_server(self, server, options: dict) -> None:
        try:
            if self._hold_reason is not None:
                server.hold(self._hold_reason)
            server.start(self.backend.make_serve_options(**options))
        except Exception as e:  # noqa: BLE001 - a ServeConfigError (TLS files...) or a bug: shown
            self.bridge.start_failed.emit("sharing", str(e) or type(e).__name__)

    # -- events (UI thread) -----------------------------------------------------------------------
    @Slot(str, str)
    def _on_failed(self, kind: str, message: str) -> None:
        message = for_error(kind, message)
        self.shell.messages.show(message)
        self.shell.update_settings(sharing=False)
        self._set(OFF, _off_text(message))

    @Slot(object)
    def _on_event(self, event) -> None:
        from moshi_mlx.engine.events import ErrorEvent, ProgressEvent, StateEvent
        from moshi_mlx.serve.events import ClientEvent

        if isinstance(event, Urls):
            self.urls = list(event.urls)
        elif isinstance(event, ProgressEvent):
            self._set(self.state, progress_text(event))
        elif isinstance(event, StateEvent):
            self._on_state(event)
        elif isinstance(event, ClientEvent):
            self._on_client(event)
        elif isinstance(event, ErrorEvent):
            message = for_error(event.kind, event.message)
            self.shell.messages.show(message)
            if event.fatal:  # the server stops ("stopped" follows): the switch goes off
                self._failed = True
                self.shell.update_settings(sharing=False)
                self._set(self.state, _off_text(message))

    def _on_state(self, event) -> None:
        if event.state == "loading":
            self._failed = False
            self._set(STARTING, "Loading the model…")
        elif event.state == "running":
            copy = "" if self.shares_talk_model else " (its own copy of the model)"
            self._set(READY, f"Ready: waiting for a device{copy}")
            self._apply_persona()  # changed while the model was loading
        elif event.state == "stopped":
            self.urls, self.peer = [], None
            self._set(OFF, self.status if self._failed else "Off")
            if self._restart and not self._failed:
                self._restart = False
                self.turn_on()

    def _on_client(self, event) -> None:
        if event.change == "connected":
            self.peer = event.peer
            self._set(CONNECTED, f"A device at {event.peer} is connected")
        elif event.change == "disconnected":
            self.peer = None
            self._set(READY, f"Ready: the device at {event.peer} left")
        elif event.change == "refused":
            why = _REFUSED.get(event.detail, event.detail)
            self._set(self.state, f"{self.status.split(' · ')[0]} · refused {event.peer}: {why}")

    def _set(self, state: str, status: str) -> None:
        self.state, self.status = state, status
        self.changed.emit()
