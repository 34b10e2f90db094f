"""`moshi-quantize`: convert a Kyutai PyTorch checkpoint (folder or Hugging Face repo id) into an MLX
checkpoint folder, optionally quantized to 4 or 8 bits, and optionally verify it against the
original."""

from __future__ import annotations

import argparse
import sys

from moshi_mlx.errors import MoshiError
from moshi_mlx.interrupts import stop_signals_interrupt

from .plan import PARTS
from moshi_mlx.engine import options_cli as _v


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", nargs="?",
                        help="folder, Hugging Face repo id (e.g. kyutai/moshiko-pytorch-bf16), or the "
                             "LM weights file (Mimi and tokenizer found beside it)")
    parser.add_argument("-o", "--output", required=True, help="output folder (must not exist, see --force)")
    parser.add_argument("--bits", type=int, choices=(4, 8), help="quantize Linear/Embedding weights "
                        "(omitted: unquantized)")
    parser.add_argument("--group-size", type=int, choices=(32, 64, 128),
                        help="quantization group size (default 32 for 4 bits, 64 for 8 bits)")
    parser.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32"),
                        help="dtype of the unquantized parts, scales and biases (default bf16)")
    parser.add_argument("--keep", metavar="PARTS",
                        help=f"comma-separated parts kept at --keep-bits: {', '.join(PARTS)}, or "
                             "globs over module paths (e.g. 'transformer.layers.0.*')")
    parser.add_argument("--keep-bits", type=int, choices=(8, 16), default=8,
                        help="precision of the --keep parts: 8 bits, or 16 = unquantized (default 8)")
    parser.add_argument("--keep-group-size", type=int, choices=(32, 64, 128),
                        help="group size of the --keep parts (default 64 at 8 bits)")
    files = parser.add_argument_group("explicit files (override what the source holds)")
    files.add_argument("--lm", help="LM weights (.safetensors, or .pt/.pth/.bin read with weights_only)")
    files.add_argument("--mimi", help="Mimi codec weights (.safetensors)")
    files.add_argument("--tokenizer", help="sentencepiece text tokenizer (.model)")
    files.add_argument("--config", help="config.json with Kyutai lm_kwargs (default: Moshi 7B)")
    files.add_argument("--lora", metavar="ADAPTER", help="a moshi-finetune LoRA adapter (lora.safetensors) "
                       "merged into the weights before converting: W + lora_scaling * B @ A")
    files.add_argument("--lora-config", metavar="JSON", help="the adapter's config.json (lora_rank, "
                       "lora_scaling; default: the one beside the adapter)")
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify = parser.add_argument_group("verification (runs both models: needs memory for both)")
    verify.add_argument("--verify", action="store_true",
                        help="compare the converted model with the original on a fixed input")
    verify.add_argument("--verify-frames", type=_v.COUNT, default=16, help="frames to compare (default 16)")
    verify.add_argument("--min-text-agreement", type=_v.FRACTION, default=0.8,
                        help="lowest acceptable text top-1 agreement, 0..1 (default 0.8)")
    verify.add_argument("--min-audio-agreement", type=_v.FRACTION, default=0.5,
                        help="lowest acceptable audio top-1 agreement, 0..1 (default 0.5)")
    verify.add_argument("--max-text-kl", type=_v.GUIDANCE, default=0.5,
                        help="highest acceptable mean KL(original || converted) of text logits, nats "
                             "(default 0.5)")


def run(args: argparse.Namespace) -> int:
    from .convert import convert

    if args.verify and args.lora:
        raise MoshiError("--verify compares with the checkpoint as read, without the adapter: "
                         "convert with --lora, or verify without it")

    keep = None
    if args.keep:
        keep = {part.strip(): args.keep_bits for part in args.keep.split(",") if part.strip()}
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1000, desc="converting")
        bar.update(done - bar.n)

    try:
        summary = convert(args.source, args.output, bits=args.bits, group_size=args.group_size,
                          dtype=args.dtype, keep=keep, force=args.force, progress=progress,
                          lm_file=args.lm, mimi_file=args.mimi, tokenizer_file=args.tokenizer,
                          config_file=args.config, keep_group_size=args.keep_group_size,
                          lora=args.lora, lora_config=args.lora_config)
    finally:
        if bar is not None:
            bar.close()
    print(summary.format())
    if not args.verify:
        return 0
    from .verify import Thresholds, verify

    try:
        report = verify(summary.output, summary.source_lm, frames=args.verify_frames)
    except KeyboardInterrupt:
        print(f"verification interrupted; the output is complete: {summary.output}", file=sys.stderr)
        return 130
    thresholds = Thresholds(args.min_text_agreement, args.min_audio_agreement, args.max_text_kl)
    print(report.format(thresholds))
    return 0 if report.passes(thresholds) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="moshi-quantize", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Convert a Kyutai PyTorch checkpoint into an MLX checkpoint folder "
                    "(optionally 4/8-bit quantized).",
        epilog="examples:\n"
               "  moshi-quantize kyutai/moshiko-pytorch-bf16 -o moshiko-q4 --bits 4\n"
               "  moshi-quantize kyutai/moshika-pytorch-bf16 -o moshika-q8 --bits 8 --verify\n"
               "  moshi-quantize ./pytorch-folder -o mixed --bits 4 --keep embeddings,heads")
    configure_parser(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        with stop_signals_interrupt():  # SIGTERM, SIGHUP: like Ctrl-C, nothing left behind
            return run(args)
    except MoshiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        if getattr(e, "completed", False):
            print(f"interrupted after the output was complete: {args.output}", file=sys.stderr)
        else:
            print("interrupted: no output was written", file=sys.stderr)
        return 130
