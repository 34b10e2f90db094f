"""Kyutai's Mimi codec in MLX: 24 kHz audio <-> K token streams at 12.5 Hz, batch and streaming."""

from .codec import StreamingCodec, find_mimi_file, folder_mimi_config, open_codec
from .config import MimiConfig
from .model import Mimi, MimiState
from .weights import export_release_format, load_mimi

__all__ = ["MimiConfig", "Mimi", "MimiState", "load_mimi", "open_codec", "find_mimi_file",
           "folder_mimi_config", "StreamingCodec", "export_release_format"]
