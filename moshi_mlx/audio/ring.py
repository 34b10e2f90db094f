"""A single-producer single-consumer ring of float32 samples, preallocated.

The audio callback is one side, the worker thread the other. Each side only advances its own
counter (a Python int assignment, atomic under the GIL), so neither needs a lock, and `write` /
`read_into` copy into preallocated memory without allocating arrays.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    def __init__(self, capacity: int):
        self._buf = np.zeros(capacity, np.float32)
        self.capacity = capacity
        self._written = 0  # advanced only by the producer
        self._read = 0  # advanced only by the consumer

    def available(self) -> int:
        return self._written - self._read

    def free(self) -> int:
        return self.capacity - self.available()

    def write(self, data: np.ndarray) -> int:
        """Copy as much of `data` as fits; returns the number of samples that did not fit."""
        n = min(len(data), self.free())
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start:start + first] = data[:first]
        if n > first:
            self._buf[:n - first] = data[first:n]
        self._written += n
        return len(data) - n

    def read_into(self, out: np.ndarray) -> int:
        """Fill `out` from the ring as far as possible; returns how many samples were copied."""
        n = min(len(out), self.available())
        start = self._read % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start:start + first]
        if n > first:
            out[first:n] = self._buf[:n - first]
        self._read += n
        return n

    def skip(self, n: int) -> int:
        """Consumer side: drop up to n samples; returns how many were dropped."""
        n = min(n, self.available())
        self._read += n
        return n

    def clear(self) -> None:
        """Consumer side: drop everything written so far."""
        self._read = self._written
