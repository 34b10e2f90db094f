"""`moshi-mlx encode IN.wav OUT.npy` and `moshi-mlx decode IN.npy OUT.wav`.

Audio of any rate and channel count is resampled to 24 kHz mono; codes are saved as int32 [K, frames].
Both stream: the input is read and the output written frame by frame (moshi_mlx.audio_io,
moshi_mlx.npyfile), so memory stays constant for any length. The output is written to a temporary
file and renamed into place at the end (moshi_mlx.outputs): a failure or Ctrl-C leaves nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MoshiError
from .codec import BACKENDS
from ..engine import options_cli as _v


def configure_parser(parser: argparse.ArgumentParser, name: str = "encode") -> None:
    if name == "encode":
        parser.add_argument("input", help="audio file (WAV, FLAC...), any sample rate and channels")
        parser.add_argument("output", help="codes file to write (.npy, int32 [K, frames])")
    else:
        parser.add_argument("input", help="codes file (.npy, int [K, frames])")
        parser.add_argument("output", help="WAV file to write (24 kHz mono float32)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--mimi", metavar="FILE", help="Mimi weights (release safetensors format)")
    src.add_argument("--model", metavar="SPEC",
                     help="a model folder holding Mimi weights, a Hugging Face repo id, or 'demo'")
    parser.add_argument("--cache-dir", default=None, help="Hugging Face cache folder (default: HF's)")
    parser.add_argument("--mimi-config", metavar="JSON",
                        help="Mimi config as JSON text or a JSON file (default: the model folder's "
                             "config.json \"mimi_config\", else the released Mimi)")
    parser.add_argument("--backend", choices=BACKENDS, default="mlx", help="codec implementation")
    if name == "encode":
        parser.add_argument("--codebooks", type=_v.COUNT0, default=8, metavar="K",
                            help="number of codebooks to produce (default 8)")


def _weights_and_config(args):
    """(Mimi weights path, MimiConfig) from --mimi/--model and --mimi-config."""
    from ..hub import resolve_model
    from .codec import find_mimi_file, folder_mimi_config
    from .config import MimiConfig

    folder_config = None
    if args.mimi:
        path = Path(args.mimi)
    else:
        if Path(args.model).expanduser().is_file() and Path(args.model).suffix != ".safetensors":
            raise MoshiError(f"--model {args.model}: a file that is not model weights; give a model "
                             "folder, a repo id or 'demo' (or Mimi weights with --mimi FILE.safetensors)")
        if Path(args.model).expanduser().is_dir():  # a folder may hold only the codec
            path = find_mimi_file(Path(args.model).expanduser())
        else:  # demo or a repo id, as for every other command
            path = resolve_model(args.model, cache_dir=args.cache_dir).mimi_path
        folder_config = folder_mimi_config(path.parent)  # its config.json "mimi_config"
    if args.mimi_config:
        text, source = args.mimi_config, "--mimi-config"
        if os.path.isfile(text):
            text, source = Path(text).read_text(), args.mimi_config
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"--mimi-config is not JSON text or a JSON file: {e}") from None
        return path, MimiConfig.from_dict(data, source=source)
    return path, folder_config or MimiConfig.moshi()


def _open(args, path: Path, config, num_codebooks: int):
    from .codec import open_codec

    if not 1 <= num_codebooks <= config.n_q:
        raise ConfigError(f"--codebooks {num_codebooks}: this Mimi has {config.n_q} codebooks; "
                          f"choose 1 to {config.n_q}")
    return open_codec(path, backend=args.backend, num_codebooks=num_codebooks, config=config)


def encode_file(args) -> tuple[int, int]:
    """Streams args.input into args.output; returns (codebooks, frames)."""
    from ..audio_io import AudioFileReader
    from ..npyfile import NpyColumnWriter
    from ..outputs import OutputSet

    with OutputSet(inputs=[args.input]) as outputs:
        tmp = outputs.add(args.output, "output")
        path, config = _weights_and_config(args)
        with AudioFileReader(args.input, config.frame_size, config.sample_rate) as reader:
            codec = _open(args, path, config, args.codebooks)
            with NpyColumnWriter(tmp, codec.num_codebooks) as codes:
                for frame in reader:
                    codes.append(codec.encode_frame(frame))
            _warn(reader.notes())
        outputs.commit()
    return codes.rows, codes.columns


def decode_file(args) -> float:
    """Streams the codes of args.input into a WAV; returns its duration in seconds."""
    from ..audio_io import WavWriter
    from ..npyfile import CodesFile
    from ..outputs import OutputSet

    with OutputSet(inputs=[args.input]) as outputs, CodesFile(args.input) as codes:
        tmp = outputs.add(args.output, "output")
        path, config = _weights_and_config(args)
        k, frames = codes.shape
        if k > config.n_q:
            hint = ("it looks transposed ([frames, K]): save codes.T" if frames <= config.n_q else
                    f"this Mimi has {config.n_q} codebooks")
            raise MoshiError(f"codes file {args.input}: {k} rows of codes; expected [K, frames] "
                             f"with K <= {config.n_q}: {hint}")
        if frames == 0:
            raise MoshiError(f"codes file {args.input}: holds no frames ([{k}, 0])")
        codec = _open(args, path, config, k)
        with WavWriter(tmp, codec.sample_rate) as wav:
            for t, column in enumerate(codes.columns()):
                try:
                    pcm = codec.decode_frame(column)
                except ValueError as e:
                    raise MoshiError(f"codes file {args.input}, frame {t}: {e}") from None
                wav.write(pcm)
        outputs.commit()
    return wav.seconds


def _warn(notes: list[str]) -> None:
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    if args.command == "encode":
        k, frames = encode_file(args)
        print(f"{args.output}: {k} codebooks x {frames} frames")
    else:
        seconds = decode_file(args)
        print(f"{args.output}: {seconds:.2f} s")
    return 0
