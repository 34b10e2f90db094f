"""`python -m moshi_mlx run --input IN.wav --output OUT.wav`: the engine over a recorded input.

Each input frame goes through the same FrameEngine as a live conversation. The output WAV has the
input's length: frames for which the model emits nothing yet (while its delays fill) are silence.
`--tokens` saves an int32 array [1 + 8, frames] with, for each frame the model emitted, its text
token then its 8 audio codes: the columns of Kyutai's `LMGen.step` outputs, in order.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..personas.cli import add_persona_options, persona_options
from .options_cli import add_model_options, add_sampling_options, sampling_from_args


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="input audio file (any rate / channel count)")
    p.add_argument("--output", required=True, help="Moshi's audio, 24 kHz mono WAV")
    p.add_argument("--transcript", default=None, help="write Moshi's text here")
    p.add_argument("--tokens", default=None, help="write the tokens [1+8, frames] here (.npy)")
    p.add_argument("--greedy", action="store_true", help="argmax everywhere (no sampling)")
    add_model_options(p)
    add_sampling_options(p)
    add_persona_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _atomic(path: str | os.PathLike, write) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would append ".npy" to a path
        np.save(f, array)


def run_file(core, pcm: np.ndarray, progress: bool = False):
    """Run `pcm` (24 kHz mono) through `core` -> (audio, text, tokens [1+K, n], mean ms/frame)."""
    from tqdm import tqdm

    from .. import audio_io

    frame = core.model.codec.frame_size
    pcm = audio_io.pad_to_frames(pcm, frame)
    n = len(pcm) // frame
    out = np.zeros(n * frame, np.float32)
    text, tokens, total_ms = [], [], 0.0
    for i in tqdm(range(n), disable=not progress, unit="frame", file=sys.stderr):
        res = core.step(pcm[i * frame:(i + 1) * frame])
        total_ms += res.total_ms
        out[i * frame:(i + 1) * frame] = res.pcm
        text.append(res.text)
        if res.text_token is not None:
            tokens.append(np.concatenate([[res.text_token], res.audio_codes]).astype(np.int32))
    k = 1 + core.model.num_codebooks
    arr = np.stack(tokens, axis=1) if tokens else np.zeros((k, 0), np.int32)
    return out, "".join(text).strip(), arr, total_ms / max(n, 1)


def main(args: argparse.Namespace) -> int:
    from .. import audio_io
    from ..errors import MoshiError
    from ..hub import resolve_model
    from .core import FrameEngine
    from .loader import load_model

    for out in (args.output, args.transcript, args.tokens):
        if out and not Path(out).resolve().parent.is_dir():
            raise MoshiError(f"output folder of {out} does not exist")
    pcm = audio_io.read_audio(args.input)
    kind_options = persona_options(args)
    files = resolve_model(args.model, cache_dir=args.cache_dir)
    if files.is_demo:
        print("note: the demo model has random weights: its output is noise", file=sys.stderr)
    model = load_model(files, args.codec_backend)
    core = FrameEngine(model, sampling_from_args(args), kind_options)
    t0 = time.perf_counter()
    audio, text, tokens, ms = run_file(core, pcm, progress=not args.quiet)
    wall = time.perf_counter() - t0
    audio_io.write_wav(args.output, audio)
    if args.transcript:
        _atomic(args.transcript, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    if args.tokens:
        _atomic(args.tokens, lambda tmp: _save_npy(tmp, tokens))
    seconds = len(audio) / 24000
    print(f"{files.name}: {seconds:.1f} s of audio in {wall:.1f} s ({ms:.1f} ms/frame, "
          f"real-time factor {ms / 80:.2f}); wrote {args.output}", file=sys.stderr)
    if text:
        print(text)
    return 0
