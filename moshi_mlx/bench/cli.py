"""`moshi-mlx bench [codec|lm|e2e]`: each benchmark is a module with configure_parser/main.

With no benchmark named, runs the end-to-end one: it tells a user whether their machine can hold a
conversation in real time.
"""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    "e2e": ("moshi_mlx.bench.e2e", "end to end per frame: encode, LM step, decode, real-time verdict"),
    "codec": ("moshi_mlx.bench.codec", "Mimi encode/decode ms per frame, MLX vs rustymimi vs Kyutai's MLX"),
    "lm": ("moshi_mlx.bench.lm", "LM step time split into temporal, depformer and sampling"),
    "stt": ("moshi_mlx.stt.bench", "transcription speed (x real time) of a file, as `transcribe` runs it"),
    "persona": ("moshi_mlx.bench.persona", "PersonaPlex prompt: batched vs frame-by-frame prefill, conversation start"),
    "tts": ("moshi_mlx.bench.tts", "text to speech: time to first audio, LM step and decode, vs Kyutai's"),
    "assistant": ("moshi_mlx.bench.assistant", "voice assistant: end of speech -> first audio, split into its parts"),
}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="BENCHMARK")
    for name, (module_name, help_text) in BENCHMARKS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module_name).configure_parser(p)


def main(args: argparse.Namespace) -> int:
    name = args.bench or "e2e"
    if args.bench is None:  # `bench` alone: parse the e2e defaults
        p = argparse.ArgumentParser()
        importlib.import_module(BENCHMARKS[name][0]).configure_parser(p)
        args = p.parse_args([])
    return int(importlib.import_module(BENCHMARKS[name][0]).main(args) or 0)
