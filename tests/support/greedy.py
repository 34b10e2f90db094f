"""Greedy token references computed step by step in the test, for comparing with what a command
or an engine produced: a file's frames through the Mimi encoder and an LmGen, and the tokens of
a list of step outputs."""

import numpy as np

FRAME = 1920  # samples per 80 ms frame at 24 kHz


def tokens_of(outputs) -> np.ndarray:
    """[frames, 1 + codebooks]: each step output's text token and audio codes (None skipped)."""
    return np.array([[o.text_token, *o.audio_codes] for o in outputs if o is not None])


def file_tokens(model, gen, wav) -> np.ndarray:
    """[1 + codebooks, frames]: `gen` stepped over `wav`'s frames (encoded by `model.codec`), as
    the file commands write with --tokens."""
    from moshi_mlx import audio_io

    pcm = audio_io.pad_to_frames(audio_io.read_audio(wav), FRAME)
    model.codec.reset()
    outputs = [gen.step(model.codec.encode_frame(pcm[i * FRAME:(i + 1) * FRAME])) for i in range(len(pcm) // FRAME)]
    return np.asarray(tokens_of(outputs), np.int32).T
