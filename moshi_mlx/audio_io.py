"""Audio files in constant memory: any file read as fixed-size frames of 24 kHz mono float32
(`AudioFileReader`), WAV written frame by frame (`WavWriter`), and the same cleaning of bad samples
(NaN, infinities, absurd values) for files and for the live microphone (`clean_pcm`).

Files are read in blocks of 4096 sample frames with soundfile and resampled with a streaming soxr resampler,
so a 2-hour file needs the memory of a 1-minute one; the result equals soxr's one-shot resampling
of the whole file (`read_audio`, which concatenates the same frames).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from . import SAMPLE_RATE
from .finite import check_finite_pcm
from .errors import MoshiError

ABSURD = 32.0  # |sample| above this (+30 dBFS) is corruption, not loud audio
_BLOCK = 4096  # sample frames read at a time: 0.17 s at 24 kHz, 128 kB at 384 kHz x 8 channels
_SHORT_DATA = re.compile(r"data\s*:\s*(\d+)\s*\(should be (\d+)\)")


def clean_pcm(pcm: np.ndarray) -> tuple[np.ndarray, int]:
    """(pcm with NaN, +-inf and |x| > ABSURD replaced by 0, how many samples were replaced).
    Returns the input itself when nothing is wrong (the common case costs one check)."""
    pcm = np.asarray(pcm, dtype=np.float32)
    bad = ~(np.abs(pcm) <= ABSURD)  # NaN compares False: caught here too
    count = int(np.count_nonzero(bad))
    if count:
        pcm = np.where(bad, np.float32(0.0), pcm)
    return pcm, count


def to_mono(pcm: np.ndarray) -> np.ndarray:
    """[frames] or [frames, channels] -> [frames] float32 (channel average)."""
    pcm = np.asarray(pcm, dtype=np.float32)
    return pcm.mean(axis=1, dtype=np.float32) if pcm.ndim == 2 else pcm


def resample(pcm: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a whole mono float32 signal (soxr, high quality)."""
    if rate_in == rate_out:
        return np.ascontiguousarray(pcm, dtype=np.float32)
    return soxr.resample(pcm, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


class AudioFileReader:
    """Any audio file (WAV, FLAC, OGG..., any rate and channel count) as frames of `frame_size`
    samples of mono float32 at `rate` Hz, in constant memory:

        with AudioFileReader("talk.wav", frame_size=1920) as reader:
            for frame in reader:          # float32 [1920]; the last frame is zero-padded
                ...
            print(reader.notes())         # warnings to show the user (bad samples, truncation)

    Opening raises MoshiError naming the file when it cannot be read or holds no audio (an empty
    or header-only file). A file whose header announces more data than it holds is read up to its
    end, with a note. Bad samples (NaN, infinities, |x| > ABSURD) become silence and are counted in
    `bad_samples` (per channel sample, before the channels are averaged). `frames` is the number
    of frames the file gives (from its header, so it may be short when the header lies).
    """

    def __init__(self, path: str | os.PathLike, frame_size: int, rate: int = SAMPLE_RATE):
        self.path, self.frame_size, self.rate = Path(path), frame_size, rate
        _check_audio_path(self.path)
        try:
            self._file = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError, OSError, TypeError) as e:
            raise MoshiError(f"cannot read audio file {path}: {e}") from None
        self.file_rate, self.channels = self._file.samplerate, self._file.channels
        self._notes: list[str] = []
        short = _SHORT_DATA.search(self._file.extra_info or "")
        if self._file.frames <= 0:
            self._file.close()
            raise MoshiError(f"{path}: holds no audio (an empty or header-only file)")
        if short and int(short.group(2)) < int(short.group(1)):
            self._notes.append(f"{path}: its header announces {int(short.group(1))} bytes of audio but "
                               f"the file holds {int(short.group(2))} (truncated?): using what is there")
        self.bad_samples = 0
        self._resampler = None if self.file_rate == rate else soxr.ResampleStream(
            self.file_rate, rate, 1, dtype="float32", quality="HQ")

    @property
    def duration_s(self) -> float:
        return self._file.frames / self.file_rate

    @property
    def frames(self) -> int:
        return max(1, math.ceil(round(self.duration_s * self.rate) / self.frame_size))

    def _blocks(self) -> Iterator[np.ndarray]:
        """Mono float32 at `rate`, in pieces of any length."""
        try:
            for raw in self._file.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
                raw, bad = clean_pcm(raw)
                self.bad_samples += bad
                mono = to_mono(raw)
                yield mono if self._resampler is None else self._resampler.resample_chunk(mono)
        except (sf.LibsndfileError, RuntimeError) as e:
            raise MoshiError(f"{self.path}: cannot read the audio: {e}") from None
        if self._resampler is not None:
            yield self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)

    def __iter__(self) -> Iterator[np.ndarray]:
        buf = np.zeros(self.frame_size, np.float32)
        filled = 0
        for piece in self._blocks():
            while len(piece):
                n = min(self.frame_size - filled, len(piece))
                buf[filled:filled + n] = piece[:n]
                filled, piece = filled + n, piece[n:]
                if filled == self.frame_size:
                    yield buf.copy()
                    filled = 0
        if filled:
            buf[filled:] = 0.0
            yield buf.copy()

    def notes(self) -> list[str]:
        """Warnings for the user; complete once the file has been read to its end."""
        notes = list(self._notes)
        if self.bad_samples:
            notes.append(f"{self.path}: {self.bad_samples} samples were NaN, infinite or absurd "
                         f"(|x| > {ABSURD:g}) and were replaced by silence")
        return notes

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "AudioFileReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_audio_path(path: Path) -> None:
    """Clear words for what libsndfile calls "System error."."""
    if not path.exists():
        raise MoshiError(f"{path}: no such audio file")
    if path.is_dir():
        raise MoshiError(f"{path}: is a folder; give an audio file")
    if not path.is_file():
        raise MoshiError(f"{path}: not a regular file (a device or a pipe); give an audio file")


def read_audio(path: str | os.PathLike, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A whole audio file (WAV, FLAC, OGG...) as mono float32 at `rate` Hz, cleaned like
    AudioFileReader (which streams it instead; prefer that for long files)."""
    with AudioFileReader(path, frame_size=4096, rate=rate) as reader:
        pieces = list(reader._blocks())
    return np.concatenate(pieces).astype(np.float32, copy=False)


class WavWriter:
    """A float32 WAV written frame by frame to `path` (usually an OutputSet temporary), samples
    clipped to [-1, 1]. `seconds` is what was written so far."""

    def __init__(self, path: str | os.PathLike, rate: int = SAMPLE_RATE, channels: int = 1):
        self.rate, self.path = rate, str(path)
        self._file = sf.SoundFile(str(path), "w", samplerate=rate, channels=channels,
                                  format="WAV", subtype="FLOAT")
        self.samples = 0

    def write(self, pcm: np.ndarray) -> None:
        pcm = np.asarray(pcm, dtype=np.float32)
        check_finite_pcm(pcm, "the audio output")
        pcm = np.clip(pcm, -1.0, 1.0)
        self._file.write(pcm)
        self.samples += len(pcm)

    @property
    def seconds(self) -> float:
        return self.samples / self.rate

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "WavWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_wav(path: str | os.PathLike, pcm: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float32 PCM ([frames] or [frames, channels]) as a WAV file, atomically."""
    from .outputs import OutputSet

    pcm = np.asarray(pcm, dtype=np.float32)
    with OutputSet() as outputs:
        tmp = outputs.add(path, "output")
        with WavWriter(tmp, rate, 1 if pcm.ndim == 1 else pcm.shape[1]) as wav:
            wav.write(pcm)
        outputs.commit()


def pad_to_frames(pcm: np.ndarray, frame_size: int) -> np.ndarray:
    """Zero-pad a mono signal to a whole number of frames."""
    extra = (-len(pcm)) % frame_size
    return np.concatenate([pcm, np.zeros(extra, np.float32)]) if extra else pcm
