"""Command-line options shared by `chat`, `run` and `bench`: model and sampling."""

from __future__ import annotations

import argparse

from .core import Sampling

DEFAULT_MODEL = "kyutai/moshiko-mlx-q4"


def add_model_options(p: argparse.ArgumentParser, default: str = DEFAULT_MODEL, demo: str = "demo") -> None:
    p.add_argument("--model", default=default,
                   help=f"local model folder, Hugging Face repo id, or '{demo}' (tiny random model: "
                        f"noise) (default: {default})")
    p.add_argument("--cache-dir", default=None, help="Hugging Face cache folder (default: HF's)")
    p.add_argument("--codec-backend", choices=("mlx", "rustymimi"), default="mlx",
                   help="Mimi implementation (default: mlx)")


def add_sampling_options(p: argparse.ArgumentParser) -> None:
    d = Sampling()
    p.add_argument("--text-temperature", type=float, default=d.text_temperature)
    p.add_argument("--text-top-k", type=int, default=d.text_top_k)
    p.add_argument("--audio-temperature", type=float, default=d.audio_temperature)
    p.add_argument("--audio-top-k", type=int, default=d.audio_top_k)
    p.add_argument("--seed", type=int, default=None, help="random seed (reproducible sampling)")


def sampling_from_args(args: argparse.Namespace) -> Sampling:
    if getattr(args, "greedy", False):
        return Sampling.greedy(args.seed)
    return Sampling(args.text_temperature, args.text_top_k, args.audio_temperature,
                    args.audio_top_k, args.seed)
