"""`python -m moshi_mlx serve`: Kyutai's clients (web UI, `python -m moshi.client`) talk to this Mac."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from ..engine.options_cli import (DEFAULT_MODEL, add_model_options, add_sampling_options, number,
                                  sampling_from_args)

TOKEN_ENV = "MOSHI_MLX_TOKEN"


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this Mac only); any other "
                        "address, such as 0.0.0.0 for the local network, needs --token")
    p.add_argument("--port", type=int, default=8998, help="port (default: 8998, as Kyutai's server)")
    add_model_options(p, default=None, default_note=f"{DEFAULT_MODEL} unless --stt or --tts is "
                      "given; serves /api/chat")
    g = p.add_argument_group("OpenAI-compatible endpoints (see docs/local-api.md)")
    g.add_argument("--stt", metavar="MODEL", default=None,
                   help="serve POST /v1/audio/transcriptions with this speech to text model (folder, "
                        "repo id, or demo-stt)")
    g.add_argument("--tts", metavar="MODEL", default=None,
                   help="serve POST /v1/audio/speech with this text to speech model (folder, repo id, "
                        "or demo-tts); --voice is then its default voice")
    g.add_argument("--llm", metavar="MODEL", default=None,
                   help="the voice assistant's language model (mlx-lm folder, HF repo id, demo-llm or "
                        "scripted:FILE.json), served at /v1/realtime with --stt and --tts")
    g.add_argument("--api-queue", type=number(0, integer=True, high=64), default=4,
                   help="requests that may wait for a busy model; more get 429 (default: 4)")
    g.add_argument("--max-upload-mb", type=number(0.001, high=2000), default=25.0,
                   help="largest audio file accepted for transcription, in MB (default: 25)")
    add_sampling_options(p)
    p.add_argument("--token", default=None,
                   help=f"secret that clients must present; 'auto' generates one (default: ${TOKEN_ENV} "
                        "if set)")
    p.add_argument("--ssl", metavar="DIR", default=None,
                   help="serve https/wss with DIR/cert.pem and DIR/key.pem")
    p.add_argument("--static", metavar="DIR", default=None,
                   help="serve the files of DIR at / (e.g. Kyutai's web UI, its built dist folder)")
    from ..personas.cli import add_persona_options

    add_persona_options(p)  # the server's persona; a client's URL may ask for another (persona.py)
    from ..vis.cli import add_image_option

    add_image_option(p)  # MoshiVis: the picture of every conversation (serve/server.py)
    p.add_argument("--max-lag-frames", type=int, default=3,
                   help="drop frames rather than let the conversation fall more than this many 80 ms "
                        "frames behind (engine too slow, or client too slow to receive)")
    p.add_argument("--verbose", action="store_true", help="log every connection detail")


class ServeView:
    """Prints Moshi's words on stdout, the rest on stderr; remembers a fatal error."""

    def __init__(self):
        self.stopped = threading.Event()
        self.failed: str | None = None
        self._line_open = False

    def __call__(self, event) -> None:
        from ..engine.events import ErrorEvent, ProgressEvent, StateEvent, TextEvent
        from .events import ClientEvent

        if isinstance(event, TextEvent):
            sys.stdout.write(event.text)
            sys.stdout.flush()
            self._line_open = True
        elif isinstance(event, ClientEvent):
            self._newline()
            detail = f" ({event.detail})" if event.detail else ""
            session = f" [conversation {event.session}]" if event.session else ""
            print(f"{event.peer} {event.change}{session}{detail}", file=sys.stderr)
        elif isinstance(event, ProgressEvent):
            if event.unit == "bytes" and event.total:
                sys.stderr.write(f"\rdownloading {event.done / 1e9:.2f}/{event.total / 1e9:.2f} GB  ")
            else:
                sys.stderr.write(f"\r{event.job}: {event.done:.0f}/{event.total:.0f} {event.unit}  ")
            sys.stderr.flush()
        elif isinstance(event, ErrorEvent):
            self._newline()
            if event.fatal:
                self.failed = event.message
            print(f"{'error' if event.fatal else 'warning'} ({event.kind}): {event.message}",
                  file=sys.stderr)
        elif isinstance(event, StateEvent):
            if event.state == "ready":
                print(f"\nmodel ready: {event.detail}", file=sys.stderr)
            elif event.state == "stopped":
                self.stopped.set()

    def _newline(self) -> None:
        if self._line_open:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._line_open = False


def describe_persona(persona: dict) -> str:
    role = persona.get("role") or ""
    return ", ".join(filter(None, (f"voice {persona['voice']}" if persona.get("voice") else "",
                                   f"role {role[:60]!r}" + ("…" if len(role) > 60 else "") if role else "")))


def _token(args) -> str | None:
    from .security import new_token

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    return new_token() if token == "auto" else token


def main(args: argparse.Namespace) -> int:
    from ..hub import DEMO
    from .server import ChatServer, ServeOptions

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="serve: %(message)s", stream=sys.stderr)
    if any(m and m.startswith(DEMO) for m in (args.model, args.stt, args.tts, args.llm)):
        print("note: the demo model has random weights: clients will hear noise and see random words",
              file=sys.stderr)
    from ..personas.cli import persona_options

    from ..vis.cli import image_options

    token = _token(args)
    image = (image_options(args, None) or {}).get("image")  # checked now, before any loading
    persona = persona_options(args) or {}
    model = args.model or (None if args.stt or args.tts or args.llm else DEFAULT_MODEL)  # as before: Moshi
    tts_voice = persona.pop("voice", None) if args.tts else None  # --voice: the speech's voice
    options = ServeOptions(model=model, host=args.host, port=args.port, token=token,
                           ssl_dir=args.ssl, static_dir=args.static, cache_dir=args.cache_dir,
                           codec_backend=args.codec_backend, sampling=sampling_from_args(args),
                           max_lag_frames=args.max_lag_frames, voice=persona.get("voice"),
                           role=persona.get("role"), image=image, stt=args.stt, tts=args.tts,
                           tts_voice=tts_voice, api_queue=args.api_queue, llm=args.llm,
                           max_upload_mb=args.max_upload_mb)
    view = ServeView()
    server = ChatServer(view)
    server.start(options)  # ServeConfigError: printed by the CLI, exit 2
    for warning in server.warnings:
        print(f"\n{warning}\n", file=sys.stderr)
    try:
        while not server.wait_running(0.5):
            if not server.running:
                return 2 if view.failed else 1
        scheme = "wss" if args.ssl else "ws"
        if model:
            print("serving; Kyutai's clients connect to:", file=sys.stderr)
            for url in server.urls:
                print(f"  web UI (with --static): {server.browser_url(url)}", file=sys.stderr)
                print(f"  websocket: {scheme}{url[url.index(':'):]}/api/chat", file=sys.stderr)
        if args.stt or args.tts or args.llm:
            print("OpenAI-compatible API (base_url):", file=sys.stderr)
            for url in server.urls:
                print(f"  {url}/v1", file=sys.stderr)
            if args.llm:
                print("the assistant (OpenAI's Realtime API; Kyutai's clients at /api/chat):", file=sys.stderr)
                for url in server.urls:
                    print(f"  {scheme}{url[url.index(':'):]}/v1/realtime", file=sys.stderr)
        if token:
            print(f"  token: {token}", file=sys.stderr)
        if options.image:
            print(f"  image: {options.image} (every conversation is about it)", file=sys.stderr)
        if options.persona:
            print(f"  persona: {describe_persona(options.persona)} (a client may ask for another: "
                  "?voice_prompt=NAME&text_prompt=TEXT)", file=sys.stderr)
        print("Ctrl+C to stop", file=sys.stderr)
        while not view.stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 2 if view.failed else 0
