"""Mimi: SEANet + transformer + 25->12.5 Hz conv + split RVQ, in batch and streaming form."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ..lm.linear import prepare_linears
from .config import MimiConfig
from .conv import StreamingConv1d, StreamingConvTranspose1d
from .quantizer import SplitResidualVQ
from .seanet import SeanetDecoder, SeanetEncoder
from .transformer import Transformer


class MimiState:
    """Streaming state of one Mimi stream, owned by the caller. `reset()` starts a new stream."""

    def __init__(self, model: "Mimi", batch: int = 1):
        self._model, self.batch = model, batch
        self.reset()

    def reset(self) -> None:
        m, b = self._model, self.batch
        self.encoder = [m.encoder.init_state(b), m.encoder_transformer.init_state(b),
                        m.downsample.init_state(b)]
        self.decoder = [m.upsample.init_state(b), m.decoder_transformer.init_state(b),
                        m.decoder.init_state(b)]
        self.frames_encoded = 0
        self.frames_decoded = 0


class Mimi(nn.Module):
    """Mimi codec. Audio is [B, 1, T] float32 (24 kHz), codes are int32 [B, K, frames]."""

    def __init__(self, config: MimiConfig, num_codebooks: int | None = None, compile: bool = True):
        super().__init__()
        self.config = config
        self.num_codebooks = config.n_q if num_codebooks is None else num_codebooks
        if not 1 <= self.num_codebooks <= config.n_q:
            raise ValueError(f"num_codebooks {self.num_codebooks} not in 1..{config.n_q}")
        self.encoder = SeanetEncoder(config)
        self.decoder = SeanetDecoder(config)
        self.encoder_transformer = Transformer(config)
        self.decoder_transformer = Transformer(config)
        s, d = config.downsample_stride, config.dimension
        self.downsample = StreamingConv1d(d, d, 2 * s, stride=s, bias=False, pad_mode="replicate")
        self.upsample = StreamingConvTranspose1d(d, d, 2 * s, stride=s, groups=d, bias=False)
        self.quantizer = SplitResidualVQ(config)
        self._compile = compile
        self._steps = None

    @property
    def frame_size(self) -> int:
        return self.config.frame_size

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    # -- batch -------------------------------------------------------------------------------
    def encode(self, pcm: mx.array) -> mx.array:
        """[B, 1, T] float32, T a multiple of frame_size -> int32 [B, K, T // frame_size]."""
        self._check_pcm(pcm)
        self.matmul_layout()
        x = self.encoder(pcm.transpose(0, 2, 1))
        x = self.downsample(self.encoder_transformer(x))
        return self.quantizer.encode(x, self.num_codebooks)

    def decode(self, codes: mx.array) -> mx.array:
        """int [B, K, F] -> [B, 1, F * frame_size] float32."""
        self._check_codes(codes)
        self.matmul_layout()
        x = self.upsample(self.quantizer.decode(codes.astype(mx.int32)))
        return self.decoder(self.decoder_transformer(x)).transpose(0, 2, 1)

    # -- streaming ---------------------------------------------------------------------------
    def init_state(self, batch: int = 1) -> MimiState:
        return MimiState(self, batch)

    def encode_step(self, pcm: mx.array, state: MimiState) -> mx.array:
        """One frame [B, 1, frame_size] -> its codes int32 [B, K, 1]."""
        if pcm.shape != (state.batch, self.config.channels, self.frame_size):
            raise ValueError(f"encode_step wants [{state.batch}, 1, {self.frame_size}], got {pcm.shape}")
        codes, state.encoder = self._step_fns()[0](pcm, state.encoder)
        state.frames_encoded += 1
        return codes

    def decode_step(self, codes: mx.array, state: MimiState) -> mx.array:
        """One frame of codes [B, K, 1] -> [B, 1, frame_size] float32."""
        if codes.ndim != 3 or codes.shape[0] != state.batch or codes.shape[2] != 1:
            raise ValueError(f"decode_step wants [{state.batch}, K, 1] codes, got {codes.shape}")
        self._check_codes(codes)
        pcm, state.decoder = self._step_fns()[1](codes.astype(mx.int32), state.decoder)
        state.frames_decoded += 1
        return pcm

    def _encode_step(self, pcm, state):
        enc, tr, down = state
        x, enc = self.encoder.step(pcm.transpose(0, 2, 1), enc)
        x, tr = self.encoder_transformer.step(x, tr)
        x, down = self.downsample.step(x, down)
        return self.quantizer.encode(x, self.num_codebooks), [enc, tr, down]

    def _decode_step(self, codes, state):
        up, tr, dec = state
        x, up = self.upsample.step(self.quantizer.decode(codes), up)
        x, tr = self.decoder_transformer.step(x, tr)
        x, dec = self.decoder.step(x, dec)
        return x.transpose(0, 2, 1), [up, tr, dec]

    def _step_fns(self):
        # Compiled on first use, after the weights are loaded; the weights are captured by the graph.
        if self._steps is None:
            self.matmul_layout()
            norms = [cb.squared_norms() for q in (self.quantizer.rvq_first, self.quantizer.rvq_rest)
                     for cb in q.layers]
            mx.eval(norms)  # constants of the compiled graph, not recomputed per step
            wrap = mx.compile if self._compile else (lambda f: f)
            self._steps = (wrap(self._encode_step), wrap(self._decode_step))
        return self._steps

    def matmul_layout(self) -> None:
        """Store the matrices used as `x @ w.T` (Linear weights [out, in], codebooks [size, dim]) as
        transposed views of row-major [1, in, out] copies: same shapes, names and values, but the
        product is then with a plain row-major operand, which the CPU BLAS multiplies 2-3x faster
        than a transposed one (the transformers' and quantizer's steps are small-M, weight-bound
        products), and for one batch row it is one graph node (lm/linear.py). The convolutions'
        weights become views of their one-matmul layout (StreamingConv1d.prepare_taps,
        StreamingConvTranspose1d.prepare_matrix). Idempotent; no extra memory (the [out, in]
        buffers are released)."""
        arrays = [m.prepare_taps() for _, m in self.named_modules() if isinstance(m, StreamingConv1d)]
        arrays += [a for _, m in self.named_modules() if isinstance(m, StreamingConvTranspose1d)
                   for a in m.prepare_matrix()]
        arrays += [a for _, m in self.quantizer.named_modules() if hasattr(m, "prepare_rows")
                   for a in m.prepare_rows()]
        mx.eval(arrays)
        prepare_linears(self)  # the transformers' and quantizer's linears: one node each (lm/linear.py)

    def _check_pcm(self, pcm: mx.array) -> None:
        if pcm.ndim != 3 or pcm.shape[1] != self.config.channels or pcm.shape[2] % self.frame_size:
            raise ValueError(f"Mimi wants audio [B, {self.config.channels}, T] with T a multiple of "
                             f"{self.frame_size}, got {pcm.shape}")

    def _check_codes(self, codes: mx.array) -> None:
        if codes.ndim != 3 or not 1 <= codes.shape[1] <= self.config.n_q:
            raise ValueError(f"Mimi wants codes [B, K <= {self.config.n_q}, frames], got {codes.shape}")
