"""`python -m moshi_mlx chat`: a live conversation in the terminal (mic and speakers)."""

from __future__ import annotations

import argparse
import sys
import threading

from ..personas.cli import add_persona_options, persona_options
from ..vis.cli import add_image_option, image_console, image_options
from ..engine.options_cli import add_model_options, add_sampling_options, number


def configure_parser(p: argparse.ArgumentParser) -> None:
    add_model_options(p)
    add_live_options(p)


def add_live_options(p: argparse.ArgumentParser) -> None:
    """Devices, echo cancellation, sampling, recording: what every live command (chat, translate
    --live) takes."""
    p.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("--input-device", default=None, help="input device index or name (default: system's)")
    p.add_argument("--output-device", default=None, help="output device index or name (default: system's)")
    p.add_argument("--aec", action=argparse.BooleanOptionalAction, default=None,
                   help="echo cancellation (default: on when both devices are built-in)")
    add_sampling_options(p)
    add_persona_options(p)
    add_image_option(p)
    p.add_argument("--record", metavar="DIR", default=None,
                   help="save the conversation: WAV (you, Moshi) + timestamped transcript")
    p.add_argument("--max-lag-frames", type=number(0, integer=True), default=3,
                   help="drop input frames when processing falls this many 80 ms frames behind")
    p.add_argument("--duration", type=number(0, low_open=True), default=None,
                   help="stop after this many seconds (default: run until Ctrl+C)")
    p.add_argument("--no-stats", action="store_true", help="do not show the status line")


class TerminalView:
    """Prints Moshi's words on stdout and status/errors on stderr."""

    def __init__(self, show_stats: bool = True):
        self.show_stats = show_stats
        self.stopped = threading.Event()
        self.fatal_error = False
        self._at_line_start = True

    def __call__(self, event) -> None:
        from ..engine.events import ErrorEvent, OptionsEvent, ProgressEvent, StateEvent, StatsEvent, TextEvent

        if isinstance(event, TextEvent):
            sys.stdout.write(event.text.lstrip() if self._at_line_start else event.text)
            sys.stdout.flush()
            self._at_line_start = False
        elif isinstance(event, StatsEvent) and self.show_stats:
            sys.stderr.write(f"\r[{event.frames / 12.5:7.1f} s  RTF {event.real_time_factor:.2f}  "
                             f"latency {event.latency_ms:4.0f} ms  dropped {event.dropped_frames}  "
                             f"underruns {event.underruns}"
                             + (f"  aec {event.aec_ms:.1f} ms" if event.aec_ms else "") + "]  ")
            sys.stderr.flush()
        elif isinstance(event, ProgressEvent):
            total = f"/{event.total:.0f}" if event.total else ""
            if event.unit == "bytes":
                pct = f" {100 * event.done / event.total:5.1f}%" if event.total else ""
                sys.stderr.write(f"\rdownloading {event.done / 1e9:.2f}{total and f'/{event.total / 1e9:.2f}'}"
                                 f" GB{pct}   ")
            else:
                sys.stderr.write(f"\r{event.job}: {event.done:.0f}{total} {event.unit}   ")
            sys.stderr.flush()
        elif isinstance(event, OptionsEvent):
            from ..vis.cli import describe_change

            sys.stderr.write(f"\n[{event.time_s:.1f} s] {describe_change(event.options)}\n")
        elif isinstance(event, ErrorEvent):
            self.fatal_error |= event.fatal
            sys.stderr.write(f"\n{'error' if event.fatal else 'warning'} ({event.kind}): {event.message}\n")
        elif isinstance(event, StateEvent):
            if event.state == "running":
                sys.stderr.write(f"\nconversation started: {event.detail}. Speak! (Ctrl+C to stop)\n")
            elif event.state == "ready":
                sys.stderr.write(f"\nmodel ready: {event.detail}\n")
            elif event.state == "stopped":
                self.stopped.set()


def main(args: argparse.Namespace) -> int:
    from ..engine.devices import format_devices, list_devices

    if args.list_devices:
        print(format_devices(list_devices()))
        return 0
    from ..hub import DEMO, preview_config
    from ..kinds import KINDS, check_kind

    chat_kinds = tuple(k for k in KINDS if "chat" in KINDS[k].commands)
    kind = check_kind(preview_config(args.model, args.cache_dir), chat_kinds, args.model, "`chat`")

    if args.model == DEMO:
        print("note: the demo model has random weights: you will hear noise and see random words",
              file=sys.stderr)
    console = image_console if kind.name == "moshivis" else None  # a new image path per line typed
    return run_live(args, live_options(args, kind_options=image_options(args, persona_options(args)),
                                       kinds=chat_kinds), console)


def live_options(args: argparse.Namespace, **overrides):
    """EngineOptions from the options of add_model_options + add_live_options; `overrides` set
    other fields (a kind's options, the accepted kinds, sampling)."""
    from ..engine.conversation import EngineOptions

    values = dict(
        model=args.model, input_device=args.input_device, output_device=args.output_device,
        aec=args.aec, text_temperature=args.text_temperature, text_top_k=args.text_top_k,
        audio_temperature=args.audio_temperature, audio_top_k=args.audio_top_k, seed=args.seed,
        kv_bits=args.kv_bits, record_dir=args.record, codec_backend=args.codec_backend,
        max_lag_frames=args.max_lag_frames, cache_dir=args.cache_dir)
    return EngineOptions(**(values | overrides))


def run_live(args: argparse.Namespace, options, console=None) -> int:
    """Run a live session in the terminal until Ctrl+C, `--duration` or a fatal error."""
    from ..engine.conversation import ConversationEngine

    view = TerminalView(show_stats=not args.no_stats)
    return run_in_terminal(ConversationEngine, view, options, args.duration, console)


def run_in_terminal(engine_class, view, options, duration: float | None, console=None) -> int:
    """Start `engine_class(view)` with `options` (a live engine: ConversationEngine or one with its
    lifecycle), wait for Ctrl+C, `duration` seconds or the end, stop; exit code 2 after a fatal
    error. The recording folder is checked before the model loads."""
    from ..outputs import record_folder

    with record_folder(options.record_dir, "--record"):  # checked now; removed if left empty
        return _run_in_terminal(engine_class, view, options, duration, console)


def _run_in_terminal(engine_class, view, options, duration: float | None, console=None) -> int:
    engine = engine_class(view)
    engine.start(options)
    if console is not None:  # `console(engine)`: reads commands while it runs (chat: new images)
        console(engine)
    try:
        view.stopped.wait(duration)
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
        if hasattr(view, "close"):
            view.close()
    sys.stdout.write("\n")
    if engine.recording_paths:
        print("recorded: " + ", ".join(str(p) for p in engine.recording_paths.values()), file=sys.stderr)
    return 2 if view.fatal_error else 0
