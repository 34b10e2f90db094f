"""Command-line options shared by `chat`, `run` and `bench`: model and sampling."""

from __future__ import annotations

import argparse
import math

from .core import Sampling

DEFAULT_MODEL = "kyutai/moshiko-mlx-q4"


def add_model_options(p: argparse.ArgumentParser, default: str | None = DEFAULT_MODEL, demo: str = "demo",
                      default_note: str | None = None) -> None:
    p.add_argument("--model", default=default,
                   help=f"local model folder, Hugging Face repo id, or '{demo}' (tiny random model: "
                        f"noise) (default: {default_note or default})")
    p.add_argument("--cache-dir", default=None, help="Hugging Face cache folder (default: HF's)")
    p.add_argument("--codec-backend", choices=("mlx", "rustymimi"), default="mlx",
                   help="Mimi implementation (default: mlx)")


def number(low: float = 0.0, low_open: bool = False, integer: bool = False, high: float = math.inf):
    """An argparse `type`: a finite number >= low (> low with `low_open`) and <= high, else a
    usage error naming the option (argparse adds it), never a traceback. Integers are at most
    2**31 - 1 unless `high` says otherwise (sizes and counts that a native call must hold)."""
    if integer and high == math.inf:
        high = 2**31 - 1

    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            value = None
        ok = value is not None and math.isfinite(value) and (value > low if low_open else value >= low)
        if not ok or value > high:
            what = "an integer" if integer else "a number"
            upto = f" and <= {int(high) if integer else high}" if high < math.inf else ""
            raise argparse.ArgumentTypeError(f"{text!r}: expected {what} {'>' if low_open else '>='} "
                                             f"{low:g}{upto}")
        return value

    parse.__name__ = "integer" if integer else "number"
    return parse


# The one validation of numeric options: every command's numeric option uses one of these (or
# `number(...)`), so nan, inf, negative or out-of-range values are a usage error naming the option
# (tests/reliability/test_validation.py checks every parser).
TEMPERATURE = number(0.0)  # 0 = greedy
TOP_K = number(1, integer=True)
SEED = number(0, integer=True, high=2**63 - 1)
COUNT = number(1, integer=True)  # frames, steps, repeats, codebooks, sizes
COUNT0 = number(0, integer=True)  # the same where 0 is allowed (no warm-up)
SECONDS = number(0.0)  # a duration that may be 0
POSITIVE = number(0.0, low_open=True)  # > 0 (a duration that must hold something)
FRACTION = number(0.0, high=1.0)  # 0..1
GUIDANCE = number(0.0)  # classifier-free guidance coefficient


def add_sampling_options(p: argparse.ArgumentParser) -> None:
    d = Sampling()
    temperature, top_k = TEMPERATURE, TOP_K
    p.add_argument("--text-temperature", type=temperature, default=d.text_temperature,
                   help=f"0 = greedy (default {d.text_temperature})")
    p.add_argument("--text-top-k", type=top_k, default=d.text_top_k, help=f"default {d.text_top_k}")
    p.add_argument("--audio-temperature", type=temperature, default=d.audio_temperature,
                   help=f"0 = greedy (default {d.audio_temperature})")
    p.add_argument("--audio-top-k", type=top_k, default=d.audio_top_k, help=f"default {d.audio_top_k}")
    p.add_argument("--seed", type=SEED, default=None,
                   help="random seed (reproducible sampling)")
    add_kv_bits_option(p)


def add_kv_bits_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kv-bits", type=kv_bits, default=None, metavar="{8,4}",
                   help="store the LM's KV cache quantized to 8 (or 4) bits: 8 bits take about half "
                        "a 16-bit cache's memory (default: unquantized)")


def kv_bits(text: str) -> int:
    """An argparse `type` for --kv-bits: 8 or 4."""
    if text.strip() not in ("8", "4"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected 8 or 4")
    return int(text)



def sampling_from_args(args: argparse.Namespace) -> Sampling:
    bits = getattr(args, "kv_bits", None)
    if getattr(args, "greedy", False):
        return Sampling.greedy(args.seed, bits)
    return Sampling(args.text_temperature, args.text_top_k, args.audio_temperature,
                    args.audio_top_k, args.seed, bits)
