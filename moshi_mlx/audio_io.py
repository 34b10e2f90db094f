"""Audio files: read any rate/channel count as 24 kHz mono float32, write WAV atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from . import SAMPLE_RATE
from .errors import MoshiError


def to_mono(pcm: np.ndarray) -> np.ndarray:
    """[frames] or [frames, channels] -> [frames] float32 (channel average)."""
    pcm = np.asarray(pcm, dtype=np.float32)
    return pcm.mean(axis=1, dtype=np.float32) if pcm.ndim == 2 else pcm


def resample(pcm: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono float32 signal (soxr, high quality)."""
    if rate_in == rate_out:
        return np.ascontiguousarray(pcm, dtype=np.float32)
    return soxr.resample(pcm, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def read_audio(path: str | os.PathLike, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file (WAV, FLAC, OGG...) as mono float32 at `rate` Hz."""
    try:
        pcm, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise MoshiError(f"cannot read audio file {path}: {e}") from None
    return resample(to_mono(pcm), file_rate, rate)


def write_wav(path: str | os.PathLike, pcm: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float32 PCM ([frames] or [frames, channels]) as a WAV file, atomically."""
    path = Path(path)
    pcm = np.clip(np.asarray(pcm, dtype=np.float32), -1.0, 1.0)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        sf.write(tmp, pcm, rate, subtype="FLOAT", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pad_to_frames(pcm: np.ndarray, frame_size: int) -> np.ndarray:
    """Zero-pad a mono signal to a whole number of frames."""
    extra = (-len(pcm)) % frame_size
    return np.concatenate([pcm, np.zeros(extra, np.float32)]) if extra else pcm
