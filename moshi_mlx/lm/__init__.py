"""Moshi's language model (RQ-transformer) and its streaming generator, in MLX."""

from .config import LmConfig
from .weights import check_weights, expected_shapes, sanitize, translate_pytorch_tensor

__all__ = ["LmConfig", "check_weights", "expected_shapes", "sanitize", "translate_pytorch_tensor"]
