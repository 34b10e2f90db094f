"""Kyutai's Moshi (full-duplex speech-to-speech) and its Mimi codec, implemented in MLX."""

__version__ = "0.1.0"

SAMPLE_RATE = 24_000  # Mimi's sample rate (Hz)
FRAME_RATE = 12.5  # codec frames per second
FRAME_SIZE = 1920  # samples per 80 ms frame
