"""`python -m moshi_mlx translate`: speech translation with a Hibiki model.

    translate INPUT -o OUT.wav [--transcript OUT.txt] [--tokens OUT.npy] [--cfg-coef 3]
    translate --live [--input-device ..] [--output-device ..] [--aec] [--record DIR]

File mode runs Kyutai's end-of-input protocol (moshi_mlx/hibiki/translator.py) and writes the
translated speech until the model's end of speech; live mode is `chat`'s loop (ConversationEngine)
with the Hibiki stream setup: speak, hear the translation, see its text.
"""

from __future__ import annotations

import argparse
import sys
import time

from .. import FRAME_RATE
from . import KIND
from .translator import DEFAULT_MAX_TAIL_S
from ..engine import options_cli as _v

DEFAULT_MODEL = "kyutai/hibiki-1b-pytorch-bf16"
DEMO = "demo-hibiki"


def configure_parser(p: argparse.ArgumentParser) -> None:
    from ..talk.chat_cli import add_live_options
    from ..engine.options_cli import add_model_options

    p.add_argument("input", nargs="?", help="audio file to translate (any format, rate and channels)")
    p.add_argument("-o", "--output", help="the translated speech, 24 kHz mono WAV (file mode)")
    p.add_argument("--transcript", help="write the translated text here, with timestamps")
    p.add_argument("--tokens", help="write the tokens [1 + codebooks, frames] here (.npy)")
    p.add_argument("--live", action="store_true", help="translate the microphone live instead of a file")
    p.add_argument("--cfg-coef", type=_v.GUIDANCE, default=1.0,
                   help="classifier-free guidance: > 1 gives a voice closer to the speaker's "
                        "(Kyutai suggests 3; costs a batch of two); 1 = off (default)")
    p.add_argument("--greedy", action="store_true", help="argmax everywhere (no sampling)")
    p.add_argument("--max-tail", type=_v.SECONDS, default=DEFAULT_MAX_TAIL_S, metavar="SECONDS",
                   help="file mode: how long after the input to wait for the model to end its "
                        f"translation (default: {DEFAULT_MAX_TAIL_S:g} s)")
    p.add_argument("--quiet", action="store_true", help="file mode: no progress bar")
    add_model_options(p, DEFAULT_MODEL, DEMO)
    add_live_options(p)
    # sampling defaults: the model's config.json lm_gen_config (see setup.model_sampling)
    p.set_defaults(text_temperature=None, text_top_k=None, audio_temperature=None, audio_top_k=None)


def _check_args(args) -> None:
    from ..errors import MoshiError

    if args.live:
        if args.input or args.output or args.transcript or args.tokens:
            raise MoshiError("--live translates the microphone: give no input file or -o/--transcript/"
                             "--tokens (use --record DIR to keep the session)")
    elif not args.input or not args.output:
        raise MoshiError("give an input file and -o OUTPUT.wav (or --live for the microphone)")
    if args.cfg_coef < 0:
        raise MoshiError(f"--cfg-coef must be >= 0, got {args.cfg_coef}")
    if args.max_tail < 0:
        raise MoshiError(f"--max-tail must be >= 0 seconds, got {args.max_tail}")


def _sampling(args, config):
    from .setup import model_sampling

    if args.greedy:
        from ..engine.core import Sampling

        return Sampling.greedy(args.seed, args.kv_bits)
    return model_sampling(config, text_temperature=args.text_temperature, text_top_k=args.text_top_k,
                          audio_temperature=args.audio_temperature, audio_top_k=args.audio_top_k,
                          seed=args.seed, kv_bits=args.kv_bits)


def _resolve(args):
    """The model's files (downloaded with a progress bar if needed), refused unless it translates."""
    from tqdm import tqdm

    from ..hub import resolve_model
    from ..kinds import check_kind
    from .setup import check_guidance

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and not args.quiet:
            bar = tqdm(total=total, unit="B", unit_scale=True, desc="download", file=sys.stderr)
        if bar is not None:
            bar.update(done - bar.n)

    try:
        files = resolve_model(args.model, cache_dir=args.cache_dir, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    check_kind(files.config, (KIND,), files.name, "translate")
    check_guidance(files.config.get("conditioners"), args.cfg_coef, files.name)  # before loading
    return files


def main(args: argparse.Namespace) -> int:
    if args.list_devices:
        from ..engine.devices import format_devices, list_devices

        print(format_devices(list_devices()))
        return 0
    _check_args(args)
    return _live(args) if args.live else _file(args)


def _file(args) -> int:
    from ..engine.loader import load_model
    from .files import open_input, translate_to_files
    from .outputs import OutputSet

    outputs = OutputSet({"audio": args.output, "transcript": args.transcript, "tokens": args.tokens},
                        inputs=[args.input])  # checked before any work
    with outputs:  # whatever fails, no temporary stays
        return _translate_file(args, outputs)


def _translate_file(args, outputs) -> int:
    from ..engine.loader import load_model
    from .files import open_input, translate_to_files

    source = open_input(args.input)
    files = _resolve(args)
    if files.is_demo:
        print("note: the demo model has random weights: its translation is noise", file=sys.stderr)
    sampling = _sampling(args, files.config)
    model = load_model(files, args.codec_backend)
    context_s = model.lm.config.context / FRAME_RATE
    if source.seconds > context_s:
        print(f"note: {args.input} is {source.seconds:.0f} s long, more than {files.name}'s "
              f"{context_s:.0f} s context: the translation may lose track of older speech",
              file=sys.stderr)
    bars = _ProgressBars(args.quiet)
    t0 = time.perf_counter()
    try:
        result = translate_to_files(model, source, outputs, cfg_coef=args.cfg_coef, sampling=sampling,
                                    max_tail_s=args.max_tail, progress=bars)
    finally:
        bars.close()
    wall = time.perf_counter() - t0
    if not result.eos:
        print(f"warning: {files.name} did not end its translation (no EOS) within {args.max_tail:g} s "
              f"after the end of the input; the output stops there", file=sys.stderr)
    seconds = result.frames_out / FRAME_RATE
    print(f"{files.name}: {source.seconds:.1f} s of input translated into {seconds:.1f} s of speech in "
          f"{wall:.1f} s ({result.ms_per_frame:.1f} ms/frame, real-time factor "
          f"{result.ms_per_frame / 80:.2f}); wrote {args.output}", file=sys.stderr)
    if result.text:
        print(result.text)
    return 0


class _ProgressBars:
    """tqdm bars for the translator's phases: the input, then the wait for the end of speech."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar, self.phase = quiet, None, None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            desc = "translating" if phase == "input" else "finishing"
            self.bar = tqdm(total=total, unit="frame", desc=desc, file=sys.stderr)
            self.phase = phase
        self.bar.total = max(total, done)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _live(args) -> int:
    from ..talk.chat_cli import live_options, run_live

    files = _resolve(args)
    if files.is_demo:
        print("note: the demo model has random weights: you will hear noise and see random words",
              file=sys.stderr)
    print("tip: use headphones; the translation is spoken aloud and a microphone near the speakers "
          "would hear it (echo cancellation turns on for built-in devices)", file=sys.stderr)
    s = _sampling(args, files.config)
    options = live_options(args, kinds=(KIND,), used_by="translate --live",
                           kind_options={"cfg_coef": args.cfg_coef},
                           text_temperature=s.text_temperature, text_top_k=s.text_top_k,
                           audio_temperature=s.audio_temperature, audio_top_k=s.audio_top_k, seed=s.seed)
    return run_live(args, options)
