"""`moshi-mlx encode IN.wav OUT.npy` and `moshi-mlx decode IN.npy OUT.wav`.

Audio of any rate and channel count is resampled to 24 kHz mono; codes are saved as int32 [K, frames].
Both run the codec frame by frame (streaming), so memory stays constant for any length.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MoshiError
from .codec import BACKENDS


def configure_parser(parser: argparse.ArgumentParser, name: str = "encode") -> None:
    if name == "encode":
        parser.add_argument("input", help="audio file (WAV, FLAC...), any sample rate and channels")
        parser.add_argument("output", help="codes file to write (.npy, int32 [K, frames])")
    else:
        parser.add_argument("input", help="codes file (.npy, int [K, frames])")
        parser.add_argument("output", help="WAV file to write (24 kHz mono float32)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--mimi", metavar="FILE", help="Mimi weights (release safetensors format)")
    src.add_argument("--model", metavar="DIR", help="a local model folder holding Mimi weights")
    parser.add_argument("--mimi-config", metavar="JSON",
                        help="Mimi config as JSON text or a JSON file (default: the model folder's "
                             "config.json \"mimi_config\", else the released Mimi)")
    parser.add_argument("--backend", choices=BACKENDS, default="mlx", help="codec implementation")
    if name == "encode":
        parser.add_argument("--codebooks", type=int, default=8, metavar="K",
                            help="number of codebooks to produce (default 8)")


def _config(args):
    from .codec import folder_mimi_config
    from .config import MimiConfig

    if args.mimi_config:
        text = args.mimi_config
        if os.path.isfile(text):
            text = Path(text).read_text()
        try:
            return MimiConfig.from_dict(json.loads(text))
        except (ValueError, AttributeError) as e:
            raise ConfigError(f"--mimi-config is not a JSON object of Mimi settings: {e}") from None
    return folder_mimi_config(args.model) if args.model else None


def _open(args, num_codebooks: int):
    from .codec import find_mimi_file, open_codec

    path = Path(args.mimi) if args.mimi else find_mimi_file(args.model)
    return open_codec(path, backend=args.backend, num_codebooks=num_codebooks, config=_config(args))


def _save_npy(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npy", dir=path.parent)
    os.close(fd)
    try:
        np.save(tmp, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encode_file(args) -> np.ndarray:
    from ..audio_io import pad_to_frames, read_audio

    codec = _open(args, args.codebooks)
    pcm = pad_to_frames(read_audio(args.input, codec.sample_rate), codec.frame_size)
    frames = [codec.encode_frame(f) for f in pcm.reshape(-1, codec.frame_size)]
    codes = np.stack(frames, axis=1) if frames else np.zeros((codec.num_codebooks, 0), np.int32)
    _save_npy(Path(args.output), codes.astype(np.int32))
    return codes


def decode_file(args) -> np.ndarray:
    from ..audio_io import write_wav

    try:
        codes = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise MoshiError(f"cannot read codes file {args.input}: {e}") from None
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise MoshiError(f"{args.input}: codes must be an int array [K, frames], got "
                         f"{codes.dtype} {codes.shape}")
    codec = _open(args, codes.shape[0])
    try:
        frames = [codec.decode_frame(codes[:, t]) for t in range(codes.shape[1])]
    except ValueError as e:
        raise MoshiError(f"{args.input}: {e}") from None
    pcm = np.concatenate(frames) if frames else np.zeros(0, np.float32)
    write_wav(args.output, pcm, codec.sample_rate)
    return pcm


def main(args: argparse.Namespace) -> int:
    if args.command == "encode":
        codes = encode_file(args)
        print(f"{args.output}: {codes.shape[0]} codebooks x {codes.shape[1]} frames")
    else:
        pcm = decode_file(args)
        print(f"{args.output}: {len(pcm) / 24000:.2f} s")
    return 0
