"""`python -m moshi_mlx` / `moshi-mlx`: one sub-command per module.

Each module named in SUBCOMMANDS provides `configure_parser(parser)` and `main(args) -> int`; it is
imported only when its sub-command runs, so `--help` stays fast and light.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from .errors import MoshiError
from .interrupts import stop_signals_interrupt
from .stdio import pipe_safe_stdout

# sub-command -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "encode": ("moshi_mlx.mimi.cli", "encode a WAV file into Mimi codes (.npy)"),
    "decode": ("moshi_mlx.mimi.cli", "decode Mimi codes (.npy) into a WAV file"),
    "chat": ("moshi_mlx.talk.chat_cli", "live full-duplex conversation with mic and speakers"),
    "run": ("moshi_mlx.talk.run_cli", "run the conversation engine over a recorded WAV file"),
    "translate": ("moshi_mlx.hibiki.cli", "translate speech (Hibiki): a file, or live from the microphone"),
    "transcribe": ("moshi_mlx.stt.transcribe_cli", "transcribe audio files (Kyutai STT): text, subtitles, word times"),
    "listen": ("moshi_mlx.stt.listen_cli", "live captions from the microphone (Kyutai STT)"),
    "serve": ("moshi_mlx.serve.cli", "serve Kyutai's clients (web UI, moshi.client) over the network"),
    "models": ("moshi_mlx.hub_cli", "list known models, their sizes, and what is installed"),
    "voices": ("moshi_mlx.personas.cli", "PersonaPlex voices: list them, or make one from a recording"),
    "bench": ("moshi_mlx.bench.cli", "benchmarks: codec, lm, end-to-end"),
    "say": ("moshi_mlx.tts.cli", "read text aloud (Kyutai TTS) to the speaker or into a WAV file"),
    "assistant": ("moshi_mlx.assistant.cli", "talk with a local voice assistant: Kyutai STT -> mlx-lm chat model -> Kyutai TTS"),
    "tools": ("moshi_mlx.tools.cli", "the assistant's tools (built-in and MCP servers): list them, or call one"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moshi-mlx", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS:
        build_parser().parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    if name == "bench" and rest and rest[0].startswith("-") and rest[0] not in ("-h", "--help"):
        rest = ["e2e", *rest]  # `bench --model X` = `bench e2e --model X`
    module_name, help_text = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"moshi-mlx {name}", description=help_text)
    module.configure_parser(parser, name) if _takes_name(module) else module.configure_parser(parser)
    args = parser.parse_args(rest)
    args.command = name
    try:
        # SIGTERM, SIGHUP: like Ctrl-C (temporary files removed); `| head` ends nothing
        with stop_signals_interrupt(), pipe_safe_stdout():
            return int(module.main(args) or 0)
    except MoshiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise
        print(f"error: {e.filename or 'a file'}: no space left on the device", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        if getattr(e, "completed", False):
            print("interrupted after the outputs were complete", file=sys.stderr)
        return 130


def _takes_name(module) -> bool:
    # Modules serving several sub-commands (encode/decode) receive the name.
    return module.configure_parser.__code__.co_argcount >= 2
