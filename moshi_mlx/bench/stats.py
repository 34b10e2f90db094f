"""Summaries of measured times, shared by the benchmarks."""

from __future__ import annotations

import resource
import sys

import numpy as np

FRAME_MS = 80.0  # one Mimi frame (12.5 Hz): the real-time budget of a step


def timing_stats(ms: list[float]) -> dict:
    """mean, median, p90, p95 (ms) and the number of samples."""
    a = np.asarray(ms, dtype=np.float64)
    return {"mean": float(a.mean()), "median": float(np.median(a)),
            "p90": float(np.percentile(a, 90)), "p95": float(np.percentile(a, 95)), "n": len(ms)}


def peak_rss_bytes() -> int:
    """This process's peak resident memory. getrusage counts kilobytes on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def memory_peaks() -> dict:
    """Peak process memory and MLX's peak allocation, in MB, for a benchmark's result."""
    import mlx.core as mx

    return {"peak_rss_mb": peak_rss_bytes() / 2**20, "mlx_peak_mb": mx.get_peak_memory() / 2**20}
