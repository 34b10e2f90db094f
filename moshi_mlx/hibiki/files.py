"""Translate an audio file into files: the translated speech (24 kHz WAV, written frame by frame),
the timestamped transcript, and the tokens. Qt-free: the CLI calls it, and so can an app mode
(on the MLX worker thread, with `progress`, `on_text` and `cancel`)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .. import FRAME_RATE, FRAME_SIZE, SAMPLE_RATE
from .outputs import OutputSet
from .translator import DEFAULT_MAX_TAIL_S, FileTranslator, Progress, Translation, pcm_frames, transcript_lines


@dataclass
class InputAudio:
    path: str
    frames: Iterator[np.ndarray]  # 80 ms frames of 24 kHz mono float32, the last zero-padded
    total_frames: int

    @property
    def seconds(self) -> float:
        return self.total_frames / FRAME_RATE


def open_input(path: str | os.PathLike) -> InputAudio:
    """The input as frames; a file that cannot be read is a MoshiError naming it, raised here.
    (Reads the whole file with audio_io.read_audio; a streaming reader drops in here.)"""
    from .. import audio_io
    from ..errors import MoshiError

    pcm = audio_io.read_audio(path)
    if not len(pcm):
        raise MoshiError(f"{path}: holds no audio")
    return InputAudio(str(path), pcm_frames(pcm, FRAME_SIZE), -(-len(pcm) // FRAME_SIZE))


def translate_to_files(model, source: InputAudio, outputs: OutputSet, *, cfg_coef: float = 1.0,
                       sampling=None, max_tail_s: float = DEFAULT_MAX_TAIL_S,
                       progress: Progress | None = None,
                       on_text: Callable[[float, str], None] | None = None,
                       cancel: threading.Event | None = None) -> Translation:
    """Translate `source` with `model` (a LoadedModel of kind hibiki) into `outputs` (roles "audio",
    optional "transcript" and "tokens"): all of them or none."""
    import soundfile as sf

    from ..engine.core import FrameEngine
    from .setup import model_sampling

    sampling = sampling or model_sampling(model.files.config)
    core = FrameEngine(model, sampling, {"cfg_coef": cfg_coef})
    with outputs:
        with sf.SoundFile(outputs.tmp["audio"], "w", SAMPLE_RATE, 1, subtype="FLOAT", format="WAV") as wav:
            result = FileTranslator(core, max_tail_s).run(
                source.frames, source.total_frames, lambda pcm: wav.write(np.clip(pcm, -1.0, 1.0)),
                on_text, progress, cancel)
        if "transcript" in outputs.tmp:
            text = "".join(line + "\n" for line in transcript_lines(result.words))
            outputs.tmp["transcript"].write_text(text, encoding="utf-8")
        if "tokens" in outputs.tmp:
            with open(outputs.tmp["tokens"], "wb") as f:  # a file object: np.save would add ".npy"
                np.save(f, result.token_array(1 + model.lm.config.dep_q))
        outputs.commit()
    return result
