"""`python -m moshi_mlx listen`: live captions from the microphone, a paragraph per turn."""

from __future__ import annotations

import argparse
import sys

from ..talk.chat_cli import TerminalView
from .events import EndOfTurn, TextPiece
from .formats import Captions
from .loading import DEFAULT_MODEL, DEMO
from ..engine import options_cli as _v


def configure_parser(p: argparse.ArgumentParser) -> None:
    from ..engine.options_cli import add_model_options

    add_model_options(p, DEFAULT_MODEL, DEMO)
    p.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("--input-device", default=None, help="input device index or name (default: system's)")
    p.add_argument("--record", metavar="DIR", default=None,
                   help="keep the audio (WAV) and the timestamped transcript (.txt) in DIR")
    p.add_argument("--text-temperature", type=_v.TEMPERATURE, default=None, help="default: the model's lm_gen_config")
    p.add_argument("--text-top-k", type=_v.TOP_K, default=None, help="default: the model's lm_gen_config")
    p.add_argument("--seed", type=_v.SEED, default=None)
    p.add_argument("--max-lag-frames", type=_v.COUNT, default=25,
                   help="drop input when processing falls this many 80 ms frames behind (default 25: 2 s)")
    p.add_argument("--duration", type=_v.POSITIVE, default=None,
                   help="stop after this many seconds (default: run until Ctrl+C)")
    p.add_argument("--stats", action="store_true", help="show a status line (speed, latency, dropped frames)")


class CaptionView(TerminalView):
    """Captions on stdout, a paragraph per turn starting with its time; the rest as `chat` shows it."""

    def __init__(self, stats: bool = False):
        super().__init__(show_stats=stats)
        self.captions = Captions(ms=False)

    def __call__(self, event) -> None:
        from ..engine.events import StateEvent

        if isinstance(event, (TextPiece, EndOfTurn)):
            sys.stdout.write(self.captions.text(event))
            sys.stdout.flush()
        elif isinstance(event, StateEvent) and event.state == "running":
            sys.stderr.write(f"\nlistening: {event.detail}. Speak! (Ctrl+C to stop)\n")
        else:
            super().__call__(event)

    def close(self) -> None:
        sys.stdout.write(self.captions.close())
        sys.stdout.flush()


def main(args: argparse.Namespace) -> int:
    from ..engine.devices import format_devices, list_devices

    if args.list_devices:
        print(format_devices(list_devices()))
        return 0
    from ..hub import preview_config
    from ..kinds import check_kind
    from ..talk.chat_cli import run_in_terminal
    from .live import ListenOptions, LiveTranscription

    preview = preview_config(args.model, args.cache_dir)
    if preview:  # {}: nothing known yet; the model's own config.json is checked once resolved
        check_kind(preview, ("stt",), args.model, "`listen`")
    if args.model == DEMO:
        print("note: the demo model has random weights: the captions are random words", file=sys.stderr)
    options = ListenOptions(model=args.model, input_device=args.input_device, cache_dir=args.cache_dir,
                            codec_backend=args.codec_backend, record_dir=args.record,
                            max_lag_frames=args.max_lag_frames, temperature=args.text_temperature,
                            top_k=args.text_top_k, seed=args.seed)
    return run_in_terminal(LiveTranscription, CaptionView(stats=args.stats), options, args.duration)
