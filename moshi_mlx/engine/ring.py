"""Moved to moshi_mlx/audio/ring.py (one audio package); this old path re-exports it."""

from ..audio.ring import RingBuffer  # noqa: F401
