"""SEANet encoder and decoder (causal, ELU, one residual block per stage), channels-last.

Layer indices in `model` follow the reference's nn.Sequential (activations included), so the release
checkpoint's `encoder.model.{i}` names address the same layers here.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from .config import MimiConfig
from .conv import StreamingConv1d, StreamingConvTranspose1d


def _stateful(layer) -> bool:
    return hasattr(layer, "init_state")


class SequentialStreaming(nn.Module):
    """A list of layers; the state is a list with one entry per layer ({} for stateless ones)."""

    def init_state(self, batch: int) -> list:
        return [layer.init_state(batch) if _stateful(layer) else {} for layer in self.model]

    def step(self, x: mx.array, state: list) -> tuple[mx.array, list]:
        new_state = []
        for layer, s in zip(self.model, state):
            if _stateful(layer):
                x, s = layer.step(x, s)
            else:
                x = layer(x)
            new_state.append(s)
        return x, new_state

    def __call__(self, x: mx.array) -> mx.array:
        for layer in self.model:
            x = layer(x)
        return x


class ResnetBlock(SequentialStreaming):
    """x + conv1x1(elu(conv_k(elu(x)))), dilated first conv, halved hidden width."""

    def __init__(self, dim: int, kernel_size: int, dilation: int, compress: int):
        super().__init__()
        hidden = dim // compress
        self.block = [nn.ELU(), StreamingConv1d(dim, hidden, kernel_size, dilation=dilation),
                      nn.ELU(), StreamingConv1d(hidden, dim, 1)]

    @property
    def model(self):
        return self.block

    def step(self, x, state):
        y, state = super().step(x, state)
        return x + y, state

    def __call__(self, x):
        return x + super().__call__(x)


def _residuals(cfg: MimiConfig, dim: int) -> list:
    return [ResnetBlock(dim, cfg.residual_kernel_size, cfg.dilation_base ** j, cfg.compress)
            for j in range(cfg.n_residual_layers)]


class SeanetEncoder(SequentialStreaming):
    """[B, T, channels] audio -> [B, T / hop, dimension] latents."""

    def __init__(self, cfg: MimiConfig):
        super().__init__()
        mult = 1
        layers: list = [StreamingConv1d(cfg.channels, cfg.n_filters, cfg.kernel_size)]
        for ratio in reversed(cfg.ratios):
            dim = mult * cfg.n_filters
            layers += _residuals(cfg, dim)
            layers += [nn.ELU(), StreamingConv1d(dim, 2 * dim, 2 * ratio, stride=ratio)]
            mult *= 2
        layers += [nn.ELU(), StreamingConv1d(mult * cfg.n_filters, cfg.dimension, cfg.last_kernel_size)]
        self.model = layers


class SeanetDecoder(SequentialStreaming):
    """[B, F, dimension] latents -> [B, F * hop, channels] audio."""

    def __init__(self, cfg: MimiConfig):
        super().__init__()
        mult = 2 ** len(cfg.ratios)
        layers: list = [StreamingConv1d(cfg.dimension, mult * cfg.n_filters, cfg.kernel_size)]
        for ratio in cfg.ratios:
            dim = mult * cfg.n_filters
            layers += [nn.ELU(), StreamingConvTranspose1d(dim, dim // 2, 2 * ratio, stride=ratio)]
            layers += _residuals(cfg, dim // 2)
            mult //= 2
        layers += [nn.ELU(), StreamingConv1d(cfg.n_filters, cfg.channels, cfg.last_kernel_size)]
        self.model = layers
