"""`python -m moshi_mlx transcribe INPUT... --model M [-o OUT] [--format txt|srt|vtt|json]`.

Every input is checked (readable, not empty) and every output path planned and checked before the
model is loaded. Each output is written to a temporary file beside its final name as the words come
and renamed when its file is done: an error or Ctrl+C leaves no partial file. Existing files are
replaced only with --force.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MoshiError
from .formats import FORMATS, NO_END_OF_TURN_NOTE, make_writer
from .loading import DEFAULT_MODEL, DEMO
from ..engine import options_cli as _v


def configure_parser(p: argparse.ArgumentParser) -> None:
    from ..engine.options_cli import add_model_options

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files (any format, rate, channels)")
    p.add_argument("-o", "--output", default=None,
                   help="output file (one input) or existing folder (several inputs: <name>.<format> "
                        "each); default: print to stdout")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="txt (paragraphs), srt, vtt (subtitles) or json (words with start/end, ends "
                        "of turn); default: the output's suffix, else txt")
    p.add_argument("--tokens", default=None, metavar="FILE.npy",
                   help="save the text token of every frame (int32 [frames]); a folder with several inputs")
    add_model_options(p, DEFAULT_MODEL, DEMO)
    p.add_argument("--greedy", action="store_true", help="argmax text (Kyutai's STT configs already are)")
    p.add_argument("--text-temperature", type=_v.TEMPERATURE, default=None, help="default: the model's lm_gen_config")
    p.add_argument("--text-top-k", type=_v.TOP_K, default=None, help="default: the model's lm_gen_config")
    p.add_argument("--seed", type=_v.SEED, default=None, help="random seed (when sampling)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclass(frozen=True)
class Job:
    source: object  # files.AudioInput
    output: Path | None  # None: stdout
    tokens: Path | None
    output_tmp: Path | None = None  # where to write them (moshi_mlx.outputs)
    tokens_tmp: Path | None = None


def _format(args) -> str:
    if args.format:
        return args.format
    suffix = Path(args.output).suffix.lower().lstrip(".") if args.output and len(args.inputs) == 1 else ""
    return suffix if suffix in FORMATS else "txt"


def _targets(sources, out: str | None, suffix: str, what: str) -> list[Path | None]:
    """One path per input: a file (one input, or inside a given folder) or None (not asked)."""
    if out is None:
        return [None] * len(sources)
    path = Path(out).expanduser()
    if path.is_dir():
        return [path / (s.path.stem + suffix) for s in sources]
    if len(sources) > 1:
        raise MoshiError(f"{what} {out}: with several inputs, give an existing folder")
    return [path]


def plan_jobs(sources, args, fmt: str, outputs=None) -> list[Job]:
    """Every output path, checked before any work: its folder exists and is writable, it is not a
    folder, not an input, not shared by two inputs, and not an existing file (unless --force).
    With `outputs` (a moshi_mlx.outputs.OutputSet) each gets its temporary file now."""
    from ..outputs import OutputSet

    outputs = outputs if outputs is not None else OutputSet()
    for s in sources:
        outputs.add_input(s.path)
    targets = _targets(sources, args.output, "." + fmt, "-o")
    tokens = _targets(sources, args.tokens, ".tokens.npy", "--tokens")
    seen: dict[Path, Path] = {}
    jobs = []
    for source, out, tok in zip(sources, targets, tokens):
        temps = []
        for path, what in ((out, "-o"), (tok, "--tokens")):
            if path is None:
                temps.append(None)
                continue
            real = path.resolve()
            if real in seen:
                raise MoshiError(f"{seen[real]} and {source.path} would both write {path}; "
                                 "rename one or transcribe them separately")
            temps.append(outputs.add(path, what))  # never an input, a folder, a FIFO...
            if path.is_file() and not args.force:
                raise MoshiError(f"{path} exists; use --force to replace it")
            seen[real] = source.path
        jobs.append(Job(source, out, tok, *temps))
    return jobs


@contextlib.contextmanager
def _staged(path: Path | None, mode: str = "w"):
    """Yields the file to write: `path` (a temporary of the OutputSet) or stdout (never closed)."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, mode, encoding=None if "b" in mode else "utf-8") as f:
        yield f


def _progress_bar(job: Job, quiet: bool):
    if quiet:
        return None, lambda *a: None
    from tqdm import tqdm

    bar = tqdm(total=round(job.source.duration, 1), unit="s", file=sys.stderr, desc=job.source.path.name,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio "
                          "[{elapsed}<{remaining}{postfix}]")

    def update(done: float, total: float, speed: float) -> None:
        bar.set_postfix_str(f"{speed:.2f}x real time", refresh=False)
        # set, not added: summed float steps could pass the total (a negative time left)
        bar.n = min(round(done, 1), bar.total)
        bar.update(0)  # redraws at most every 0.1 s

    return bar, update


def _download_bar(quiet: bool):
    """A progress bar for a model download (only drawn if one happens)."""
    if quiet:
        return None
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total or None, unit="B", unit_scale=True, desc="download", file=sys.stderr)
        bar.update(done - bar.n)
        if total and done >= total:
            bar.close()

    return update


def _run_job(transcriber, job: Job, fmt: str, meta: dict, quiet: bool, several: bool):
    from .files import transcribe_file

    bar, update = _progress_bar(job, quiet)
    try:
        with _staged(job.output_tmp) as f:
            if job.output is None and several and fmt == "txt":
                f.write(f"==> {job.source.path} <==\n")
            writer = make_writer(fmt, f, dict(meta, file=str(job.source.path)))
            result = transcribe_file(transcriber, job.source, writer.event, update)
            writer.close(result.duration)
            if job.tokens is not None:
                with _staged(job.tokens_tmp, "wb") as tf:
                    np.save(tf, transcriber.tokens())
    finally:
        if bar is not None:
            bar.close()
    return result


def main(args: argparse.Namespace) -> int:
    from ..outputs import OutputSet
    from .files import check_input

    fmt = _format(args)
    sources = [check_input(p) for p in args.inputs]
    with OutputSet() as outputs:  # all checked before the model loads, all renamed at the end
        jobs = plan_jobs(sources, args, fmt, outputs)
        results = _transcribe(args, jobs, fmt)
        outputs.commit()
    for job, result in zip(jobs, results):
        wrote = ", ".join(str(p) for p in (job.output, job.tokens) if p) or "stdout"
        print(f"{job.source.path}: {result.duration:.1f} s of audio in {result.seconds:.1f} s "
              f"({result.speed:.2f}x real time), {result.words} words, {result.ends_of_turn} ends of "
              f"turn; wrote {wrote}", file=sys.stderr)
    return 0


def _transcribe(args, jobs, fmt: str) -> list:
    from .loading import load_stt_model
    from .transcriber import Transcriber

    model = load_stt_model(args.model, "`transcribe`", cache_dir=args.cache_dir,
                           codec_backend=args.codec_backend, download_progress=_download_bar(args.quiet))
    if model.files.is_demo:
        print("note: the demo model has random weights: its words are random", file=sys.stderr)
    temperature = 0.0 if args.greedy else args.text_temperature
    transcriber = Transcriber(model, temperature=temperature, top_k=args.text_top_k, seed=args.seed,
                              keep_tokens=args.tokens is not None)
    if not transcriber.has_end_of_turn:
        print(f"note: {model.files.name}: {NO_END_OF_TURN_NOTE}", file=sys.stderr)
    meta = {"model": model.files.name, "end_of_turn_detection": transcriber.has_end_of_turn}
    if not transcriber.has_end_of_turn:
        meta["note"] = NO_END_OF_TURN_NOTE
    return [_run_job(transcriber, job, fmt, meta, args.quiet, len(jobs) > 1) for job in jobs]
