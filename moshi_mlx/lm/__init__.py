"""Moshi's language model (RQ-transformer) and its streaming generator, in MLX."""

from .config import LmConfig
from .generate import LmGen, StepOutput
from .loading import load_lm, quantize_lm
from .model import Lm
from .sampling import make_sampler
from .weights import check_weights, expected_shapes, sanitize, translate_pytorch_tensor

__all__ = ["LmConfig", "Lm", "LmGen", "StepOutput", "load_lm", "quantize_lm", "make_sampler",
           "check_weights", "expected_shapes", "sanitize", "translate_pytorch_tensor"]
