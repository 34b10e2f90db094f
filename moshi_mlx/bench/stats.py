"""Summaries of measured times, shared by the benchmarks."""

from __future__ import annotations

import numpy as np

FRAME_MS = 80.0  # one Mimi frame (12.5 Hz): the real-time budget of a step


def timing_stats(ms: list[float]) -> dict:
    """mean, median, p90, p95 (ms) and the number of samples."""
    a = np.asarray(ms, dtype=np.float64)
    return {"mean": float(a.mean()), "median": float(np.median(a)),
            "p90": float(np.percentile(a, 90)), "p95": float(np.percentile(a, 95)), "n": len(ms)}
