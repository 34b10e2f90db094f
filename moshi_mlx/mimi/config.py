"""Mimi configuration: one frozen dataclass, derived sizes as properties."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..config_check import check_config
from ..errors import ConfigError

# fields that must be > 0 (all sizes but n_residual_layers, layer_scale and n_q_semantic)
_POSITIVE = ("sample_rate", "frame_rate", "channels", "dimension", "n_filters", "ratios", "kernel_size",
             "dilation_base", "compress", "num_heads", "num_layers", "dim_feedforward", "context",
             "max_period", "codebook_dim", "codebook_size", "n_q")


@dataclass(frozen=True)
class MimiConfig:
    sample_rate: int = 24_000
    frame_rate: float = 12.5
    channels: int = 1
    # SEANet
    dimension: int = 512
    n_filters: int = 64
    ratios: tuple[int, ...] = (8, 6, 5, 4)  # decoder order; the encoder applies them reversed
    n_residual_layers: int = 1
    kernel_size: int = 7
    residual_kernel_size: int = 3
    last_kernel_size: int = 3
    dilation_base: int = 2
    compress: int = 2
    # Transformers (one after the encoder, one before the decoder)
    num_heads: int = 8
    num_layers: int = 8
    dim_feedforward: int = 2048
    context: int = 250
    max_period: float = 10_000.0
    layer_scale: float = 0.01
    # Split RVQ
    codebook_dim: int = 256
    codebook_size: int = 2048
    n_q: int = 32
    n_q_semantic: int = 1

    def __post_init__(self):
        object.__setattr__(self, "ratios", tuple(int(r) for r in self.ratios))
        if self.dimension % self.num_heads or (self.dimension // self.num_heads) % 2:
            raise ConfigError(f"mimi config: dimension {self.dimension} is not divisible into "
                              f"{self.num_heads} heads of even size")
        if not 0 < self.n_q_semantic < self.n_q:
            raise ConfigError(f"mimi config: need 0 < n_q_semantic ({self.n_q_semantic}) < n_q ({self.n_q})")
        if self.frame_size * self.frame_rate != self.sample_rate:
            raise ConfigError(f"mimi config: sample_rate {self.sample_rate} / frame_rate {self.frame_rate} "
                              "is not a whole number of samples")
        if self.hop_length * self.downsample_stride != self.frame_size:
            raise ConfigError(f"mimi config: SEANet hop {self.hop_length} does not divide the frame "
                              f"size {self.frame_size} into a whole stride")

    @property
    def hop_length(self) -> int:
        """SEANet hop in samples (960 at 25 Hz for the release)."""
        return math.prod(self.ratios)

    @property
    def frame_size(self) -> int:
        return round(self.sample_rate / self.frame_rate)

    @property
    def encoder_frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def downsample_stride(self) -> int:
        """Latent steps per codec frame (2: 25 Hz -> 12.5 Hz)."""
        return max(1, self.frame_size // self.hop_length)

    @property
    def head_dim(self) -> int:
        return self.dimension // self.num_heads

    @classmethod
    def moshi(cls) -> "MimiConfig":
        """The released Mimi (`tokenizer-e351c8d8-checkpoint125.safetensors`)."""
        return cls()

    @classmethod
    def tiny(cls) -> "MimiConfig":
        """A small Mimi with the same structure and frame size (fast: tests, demo model)."""
        return cls(dimension=32, n_filters=4, num_heads=2, num_layers=2, dim_feedforward=64,
                   context=10, codebook_dim=16, codebook_size=64, n_q=8)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["ratios"] = list(self.ratios)
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "mimi config") -> "MimiConfig":
        """From a dict of field names; every problem -> ConfigError naming `source` and the key."""
        check_config(cls, d, source, positive=_POSITIVE)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown keys {unknown}")
        try:
            return cls(**d)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None

    def to_reference_dict(self) -> dict:
        """The same model as a `mimi_config` dict of Kyutai's PyTorch `moshi.models.loaders`."""
        seanet = {
            "channels": self.channels, "dimension": self.dimension, "causal": True,
            "n_filters": self.n_filters, "n_residual_layers": self.n_residual_layers,
            "activation": "ELU", "compress": self.compress, "dilation_base": self.dilation_base,
            "disable_norm_outer_blocks": 0, "kernel_size": self.kernel_size,
            "residual_kernel_size": self.residual_kernel_size, "last_kernel_size": self.last_kernel_size,
            "norm": "none", "pad_mode": "constant", "ratios": list(self.ratios), "true_skip": True,
        }
        transformer = {
            "d_model": self.dimension, "num_heads": self.num_heads, "num_layers": self.num_layers,
            "causal": True, "layer_scale": self.layer_scale, "context": self.context,
            "conv_layout": True, "max_period": self.max_period, "gating": "none",
            "norm": "layer_norm", "positional_embedding": "rope",
            "dim_feedforward": self.dim_feedforward, "input_dimension": self.dimension,
            "output_dimensions": [self.dimension],
        }
        quantizer = {
            "dimension": self.codebook_dim, "n_q": self.n_q, "bins": self.codebook_size,
            "input_dimension": self.dimension, "output_dimension": self.dimension,
        }
        return {"sample_rate": self.sample_rate, "channels": self.channels,
                "frame_rate": self.frame_rate, "seanet": seanet, "quantizer": quantizer,
                "transformer": transformer}
