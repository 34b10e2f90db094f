"""`python -m moshi_mlx run --input IN.wav --output OUT.wav`: the engine over a recorded input.

Each input frame goes through the same FrameEngine as a live conversation. The output WAV has the
input's length: frames for which the model emits nothing yet (while its delays fill) are silence.
`--tokens` saves an int32 array [1 + 8, frames] with, for each frame the model emitted, its text
token then its 8 audio codes: the columns of Kyutai's `LMGen.step` outputs, in order.

Constant memory: the input is read, and every output written, frame by frame. All output paths are
checked before any work, written under temporary names and renamed together at the end
(moshi_mlx.outputs): a failure or Ctrl-C leaves none of them, old or half-written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Iterable, TextIO

import numpy as np

from ..personas.cli import add_persona_options, persona_options
from ..vis.cli import add_image_option, image_options
from ..engine.options_cli import add_model_options, add_sampling_options, sampling_from_args


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="input audio file (any rate / channel count)")
    p.add_argument("--output", required=True, help="Moshi's audio, 24 kHz mono WAV")
    p.add_argument("--transcript", default=None, help="write Moshi's text here")
    p.add_argument("--tokens", default=None, help="write the tokens [1+8, frames] here (.npy)")
    p.add_argument("--greedy", action="store_true", help="argmax everywhere (no sampling)")
    add_model_options(p)
    add_sampling_options(p)
    add_persona_options(p)
    add_image_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclass
class RunResult:
    frames: int
    mean_ms: float  # per frame


def run_frames(core, frames: Iterable[np.ndarray], wav, text: TextIO, tokens=None,
               total: int | None = None, progress: bool = False) -> RunResult:
    """Steps `core` over 24 kHz mono frames, writing as it goes: Moshi's audio to `wav` (a
    WavWriter), its text to `text` (leading spaces dropped), and with `tokens` (an NpyColumnWriter of
    1 + K rows) one column per emitted frame."""
    from tqdm import tqdm

    n, total_ms, started = 0, 0.0, False
    for frame in tqdm(frames, total=total, disable=not progress, unit="frame", file=sys.stderr):
        res = core.step(frame)
        total_ms += res.total_ms
        n += 1
        wav.write(res.pcm)
        piece = res.text if started else res.text.lstrip()
        if piece:
            text.write(piece)
            started = True
        if tokens is not None and res.text_token is not None:
            tokens.append(np.concatenate([[res.text_token], res.audio_codes]))
    return RunResult(n, total_ms / max(n, 1))


def main(args: argparse.Namespace) -> int:
    from .. import FRAME_SIZE
    from ..audio_io import AudioFileReader
    from ..outputs import OutputSet

    # checked before any work (never an input: the audio, MoshiVis's image); on failure or stop: all removed
    with OutputSet(inputs=[args.input, *([args.image] if getattr(args, "image", None) else [])]) as outputs:
        paths = [outputs.add(args.output, "--output"), outputs.add(args.transcript, "--transcript"),
                 outputs.add(args.tokens, "--tokens")]
        with AudioFileReader(args.input, FRAME_SIZE) as reader:
            _run(args, reader, outputs, *paths)
    return 0


def _run(args, reader, outputs, wav_tmp, txt_tmp, tok_tmp) -> None:
    from ..audio_io import WavWriter
    from ..hub import resolve_model
    from ..npyfile import NpyColumnWriter
    from ..kinds import KINDS, check_kind
    from ..engine.core import FrameEngine
    from ..engine.loader import load_model

    kind_options = image_options(args, persona_options(args))
    files = resolve_model(args.model, cache_dir=args.cache_dir)
    check_kind(files.config, [k for k in KINDS if "run" in KINDS[k].commands], args.model, "`run`")
    if files.is_demo:
        print("note: the demo model has random weights: its output is noise", file=sys.stderr)
    model = load_model(files, args.codec_backend)
    core = FrameEngine(model, sampling_from_args(args), kind_options)
    t0 = time.perf_counter()
    text = open(txt_tmp, "w+", encoding="utf-8") if txt_tmp else tempfile.TemporaryFile("w+")
    with text, WavWriter(wav_tmp) as wav:
        tokens = NpyColumnWriter(tok_tmp, 1 + model.num_codebooks) if tok_tmp else None
        try:
            result = run_frames(core, reader, wav, text, tokens, reader.frames, not args.quiet)
        finally:
            if tokens is not None:
                tokens.close()
        text.write("\n")
        text.flush()
        wall = time.perf_counter() - t0
        for note in reader.notes():
            print(f"warning: {note}", file=sys.stderr)
        wav.close()
        outputs.commit()
        print(f"{files.name}: {wav.seconds:.1f} s of audio in {wall:.1f} s ({result.mean_ms:.1f} "
              f"ms/frame, real-time factor {result.mean_ms / 80:.2f}); wrote {args.output}",
              file=sys.stderr)
        text.seek(0)
        shutil.copyfileobj(text, sys.stdout)  # the text, also when there is no --transcript
