"""Speech as the bytes of a streamed response, encoded frame by frame as it is synthesized:
wav (16-bit, a header of unknown length as streaming servers write it), pcm (raw 24 kHz s16le,
OpenAI's pcm) and opus (Ogg Opus, sphn as for `/api/chat`). mp3, aac and flac are refused: the
encoders installed here cannot stream them (libsndfile's MP3 and FLAC writers seek back)."""

from __future__ import annotations

import struct

import numpy as np

from ... import SAMPLE_RATE

FORMATS = ("wav", "pcm", "opus")
CONTENT_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm", "opus": "audio/ogg"}
UNKNOWN = 0xFFFFFFFF  # RIFF and data sizes of a stream whose length is not known yet


def s16le(pcm: np.ndarray) -> bytes:
    return (np.clip(pcm, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


def wav_header(rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit mono WAV header with unknown sizes (readers take the data to the end)."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", UNKNOWN) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt))
            + fmt + b"data" + struct.pack("<I", UNKNOWN))


class Encoder:
    def __init__(self, fmt: str):
        self.fmt = fmt
        self._opus = None
        if fmt == "opus":
            import sphn

            self._opus = sphn.OpusStreamWriter(SAMPLE_RATE)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]

    def start(self) -> bytes:
        return wav_header() if self.fmt == "wav" else b""

    def encode(self, pcm: np.ndarray) -> bytes:
        if self._opus is not None:
            return self._opus.append_pcm(np.asarray(pcm, np.float32))
        return s16le(pcm)

    def finish(self) -> bytes:
        """The end of the stream: Opus's last page is completed with silence."""
        if self._opus is None:
            return b""
        out, pad = b"", np.zeros(480, np.float32)
        for _ in range(8):  # 20 ms at a time until the writer gives out a page
            out = self._opus.append_pcm(pad)
            if out:
                break
        return out
