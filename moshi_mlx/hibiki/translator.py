"""A recording translated frame by frame, with Kyutai's end-of-input protocol.

The protocol of Kyutai's `moshi.run_inference` for model_type "hibiki" (moshi 0.2.13), step by step:
1. the first input frame is given twice: the model never sees the first call's input (its initial
   tokens stand there), so the first frame would be lost otherwise;
2. every input frame, encoded as it comes (a last partial frame is zero-padded here; Kyutai's
   runner drops it);
3. one frame whose input codes are all `card` (2048 in the released models): the end of the input.
   It does not go through the encoder;
4. encoded silence, until the text stream emits EOS; the frame carrying the EOS is the last one
   output. An EOS sampled before the end of the input is ignored (the loader made it read as PAD).
The output is every frame the model emits (none while its acoustic delay fills). Memory stays
constant: the caller's `sink` takes each 80 ms frame of translated audio as it comes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from .. import FRAME_RATE
from ..errors import MoshiError

DEFAULT_MAX_TAIL_S = 30.0  # how long to wait for the model's EOS after the input ended

# progress(phase, done, total): phase "input" (frames of the input), then "tail" (frames after it,
# total = the cap; the tail ends early at the model's EOS)
Progress = Callable[[str, int, int], None]


class TranslationCancelled(MoshiError):
    """The caller cancelled a file translation (nothing is written)."""


@dataclass
class Translation:
    frames_in: int = 0  # input frames (80 ms)
    frames_out: int = 0  # translated frames given to the sink
    eos: bool = False  # the model ended its translation (EOS) before the cap
    early_eos: int = 0  # EOS sampled before the input ended: ignored, as in Kyutai's runner
    tokens: list = field(default_factory=list)  # per output frame: [text token, codebooks...]
    words: list = field(default_factory=list)  # (seconds into the translated audio, text)
    steps: int = 0  # model calls (input frames + 1 + the end of input + the tail)
    lm_ms: float = 0.0  # summed over steps
    total_ms: float = 0.0  # encode + LM + decode, summed over steps

    @property
    def text(self) -> str:
        return "".join(t for _, t in self.words).strip()

    def token_array(self, rows: int) -> np.ndarray:
        """[1 + codebooks, frames_out] int32: the columns of Kyutai's LMGen.step outputs."""
        if not self.tokens:
            return np.zeros((rows, 0), np.int32)
        return np.stack(self.tokens, axis=1).astype(np.int32)

    @property
    def ms_per_frame(self) -> float:
        """Encode + LM + decode per model step (80 ms of audio)."""
        return self.total_ms / max(1, self.steps)


def pcm_frames(pcm: np.ndarray, frame_size: int) -> Iterator[np.ndarray]:
    """Frames of a mono signal, the last one zero-padded."""
    for start in range(0, len(pcm), frame_size):
        frame = pcm[start:start + frame_size]
        if len(frame) < frame_size:
            frame = np.concatenate([frame, np.zeros(frame_size - len(frame), np.float32)])
        yield frame


class FileTranslator:
    """Runs the protocol above over a FrameEngine (moshi_mlx/engine/core.py) of a Hibiki model.
    `max_tail_s`: how long after the end of the input to wait for the model's EOS."""

    def __init__(self, core, max_tail_s: float = DEFAULT_MAX_TAIL_S):
        if max_tail_s < 0:
            raise MoshiError(f"the wait for the end of the translation must be >= 0 s, got {max_tail_s}")
        self.core = core
        self.max_tail_frames = int(round(max_tail_s * FRAME_RATE))
        tokenizer = core.model.tokenizer
        self.eos_id = int(tokenizer.eos_id())  # -1: the tokenizer has none, EOS never comes

    def run(self, frames: Iterable[np.ndarray], total_frames: int,
            sink: Callable[[np.ndarray], None], on_text: Callable[[float, str], None] | None = None,
            progress: Progress | None = None, cancel: threading.Event | None = None) -> Translation:
        """Translate `frames` (80 ms of 24 kHz mono each; `total_frames` of them, for progress).
        `sink(pcm)` gets each translated frame, `on_text(seconds, text)` each piece of text.
        Runs on the MLX worker thread (or the main thread of a CLI)."""
        core = self.core
        codec, config = core.model.codec, core.model.lm.config
        core.reset()
        out = Translation()
        report = progress or (lambda phase, done, total: None)
        input_ended = False

        def emit(result) -> bool:  # True once the model has said EOS after the end of the input
            out.steps += 1
            out.lm_ms += result.lm_ms
            out.total_ms += result.total_ms
            if result.text_token is None:  # the acoustic delay is still filling
                return False
            sink(result.pcm)
            out.tokens.append(np.concatenate([[result.text_token], result.audio_codes]))
            if result.text:
                seconds = out.frames_out / FRAME_RATE
                out.words.append((seconds, result.text))
                if on_text is not None:
                    on_text(seconds, result.text)
            out.frames_out += 1
            if result.text_token == self.eos_id:
                if input_ended:
                    return True
                out.early_eos += 1
            return False

        def check_cancel() -> None:
            if cancel is not None and cancel.is_set():
                raise TranslationCancelled("translation cancelled")

        report("input", 0, total_frames)
        for pcm in frames:
            check_cancel()
            t0 = time.perf_counter()
            codes = codec.encode_frame(np.ascontiguousarray(pcm, dtype=np.float32))
            encode_ms = (time.perf_counter() - t0) * 1e3
            if out.frames_in == 0:  # step 1: the call whose input the model never sees
                emit(core.step_codes(codes, encode_ms))
            emit(core.step_codes(codes, encode_ms))
            out.frames_in += 1
            report("input", out.frames_in, max(total_frames, out.frames_in))
        if out.frames_in == 0:
            raise MoshiError("the input holds no audio")
        input_ended = True
        end_of_input = np.full(codec.num_codebooks, config.card, np.int32)
        out.eos = emit(core.step_codes(end_of_input))
        silence = np.zeros(codec.frame_size, np.float32)
        tail = 0
        report("tail", 0, self.max_tail_frames)
        while not out.eos and tail < self.max_tail_frames:
            check_cancel()
            out.eos = emit(core.step(silence))
            tail += 1
            report("tail", tail, self.max_tail_frames)
        return out


def transcript_lines(words: list, pause_s: float = 1.0) -> list[str]:
    """Timestamped lines ("[hh:mm:ss.sss] text", as the conversation recorder writes them): a new
    line after `pause_s` without text. Times are into the translated audio."""
    from ..engine.recorder import _stamp

    lines: list[str] = []
    last = -1e9
    for seconds, text in words:
        if not lines or seconds - last > pause_s:
            lines.append(f"[{_stamp(seconds)}] {text.lstrip()}")
        else:
            lines[-1] += text
        last = seconds
    return lines
