"""A streaming resampler for audio blocks (soxr), or a pass-through when the rates match."""

from __future__ import annotations

import numpy as np


class Resampler:
    def __init__(self, rate_in: int, rate_out: int):
        self.rate_in, self.rate_out = rate_in, rate_out
        if rate_in == rate_out:
            self._stream = None
        else:
            import soxr

            self._stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality="HQ")

    @property
    def passthrough(self) -> bool:
        return self._stream is None

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        """The next block at `rate_out`; `last`: the stream ends here (flush what soxr holds)."""
        return x if self._stream is None else self._stream.resample_chunk(x, last=last)
