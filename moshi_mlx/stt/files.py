"""Transcribing audio files: the checks made before any work, and the frame-by-frame loop shared by
`python -m moshi_mlx transcribe` and the app (progress, cancel; no pacing to real time)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import MoshiError
from .events import EndOfTurn, SttEvent, Word
from .transcriber import Transcriber

BLOCK_FRAMES = 1  # frames pushed at a time: progress and cancel are checked between blocks


class TranscriptionCancelled(MoshiError):
    """The caller's cancel event was set; nothing of the file's outputs is kept."""


@dataclass(frozen=True)
class AudioInput:
    path: Path
    duration: float  # seconds, from the file's header


def check_input(path: str | Path) -> AudioInput:
    """A readable audio file with at least one sample, else a MoshiError naming it (checked for
    every input before the model is loaded)."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        why = "is a folder" if path.is_dir() else "not a regular file (a device or a pipe)" \
            if path.exists() else "no such audio file"
        raise MoshiError(f"{path}: {why}; give an audio file" if path.exists() else f"{path}: {why}")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise MoshiError(f"cannot read audio file {path}: {e}") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise MoshiError(f"{path}: no audio in this file (0 samples); nothing to transcribe")
    return AudioInput(path, info.frames / info.samplerate)


def read_blocks(path: Path, block: int) -> Iterator[np.ndarray]:
    """The file as 24 kHz mono blocks of `block` samples (the last one shorter); what the reader
    noticed (a truncated file, bad samples) is printed as a warning at the end.
    TODO(streaming reader): decodes the whole file into memory."""
    import sys

    from ..audio_io import AudioFileReader

    with AudioFileReader(path, frame_size=4096) as reader:
        pcm = np.concatenate(list(reader._blocks()) or [np.zeros(0, np.float32)]).astype(np.float32, copy=False)
        notes = reader.notes()
    if len(pcm) == 0:
        raise MoshiError(f"{path}: no audio in this file (0 samples); nothing to transcribe")
    for start in range(0, len(pcm), block):
        yield pcm[start:start + block]
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)


@dataclass(frozen=True)
class FileResult:
    path: Path
    duration: float  # seconds of audio
    seconds: float  # wall-clock time spent
    words: int
    ends_of_turn: int
    frames: int

    @property
    def speed(self) -> float:
        """Seconds of audio per second of work (x real time)."""
        return self.duration / max(self.seconds, 1e-9)


def transcribe_file(transcriber: Transcriber, source: AudioInput, on_event: Callable[[SttEvent], None],
                    progress: Callable[[float, float, float], None] | None = None,
                    cancel: threading.Event | None = None) -> FileResult:
    """Run one file through `transcriber` (a new stream, flushed at the end), frame by frame, as
    fast as the machine goes. `progress(done_s, total_s, speed)` after each block; setting `cancel`
    raises TranscriptionCancelled between blocks."""
    transcriber.reset()
    started = time.perf_counter()
    counts = {Word: 0, EndOfTurn: 0}

    def emit(events) -> None:
        for e in events:
            if type(e) in counts:
                counts[type(e)] += 1
            on_event(e)

    block = transcriber.frame_size * BLOCK_FRAMES
    for pcm in read_blocks(source.path, block):
        if cancel is not None and cancel.is_set():
            raise TranscriptionCancelled(f"transcription of {source.path} cancelled")
        emit(transcriber.push(pcm))
        if progress is not None:
            done = transcriber.duration
            progress(done, max(source.duration, done), done / max(time.perf_counter() - started, 1e-9))
    emit(transcriber.flush())
    return FileResult(source.path, transcriber.duration, time.perf_counter() - started,
                      counts[Word], counts[EndOfTurn], transcriber.frames)
