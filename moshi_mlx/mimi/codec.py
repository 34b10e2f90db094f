"""Frame-by-frame numpy codec interface used by the conversation engine, with two backends:
our MLX Mimi (default) and Kyutai's Rust Mimi (`rustymimi`)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..jsonfile import read_json_object
from .config import MimiConfig

BACKENDS = ("mlx", "rustymimi")


@runtime_checkable
class StreamingCodec(Protocol):
    sample_rate: int
    frame_size: int
    num_codebooks: int

    def reset(self) -> None: ...

    def encode_frame(self, pcm: np.ndarray) -> np.ndarray:
        """(frame_size,) float32 -> (num_codebooks,) int32."""

    def decode_frame(self, codes: np.ndarray) -> np.ndarray:
        """(num_codebooks,) int -> (frame_size,) float32. The MLX codec also decodes the first K
        codebooks alone (K < num_codebooks: the coarser RVQ levels, as Kyutai's TTS with n_q 24)."""


class MlxCodec:
    """StreamingCodec over our MLX Mimi: one host sync per frame."""

    def __init__(self, model):
        import mlx.core as mx

        self._mx, self.model = mx, model
        self.sample_rate, self.frame_size = model.sample_rate, model.frame_size
        self.num_codebooks = model.num_codebooks
        self.state = model.init_state(1)

    def reset(self) -> None:
        self.state.reset()

    def encode_frame(self, pcm: np.ndarray) -> np.ndarray:
        pcm = _check_frame(pcm, self.frame_size)
        codes = self.model.encode_step(self._mx.array(pcm).reshape(1, 1, -1), self.state)
        return np.asarray(codes).reshape(-1).astype(np.int32)

    def decode_frame(self, codes: np.ndarray) -> np.ndarray:
        codes = _check_codes(codes, self.num_codebooks, self.model.config.codebook_size, fewer=True)
        pcm = self.model.decode_step(self._mx.array(codes).reshape(1, -1, 1), self.state)
        return np.asarray(pcm).reshape(-1).astype(np.float32)


class RustyMimiCodec:
    """StreamingCodec over `rustymimi` (candle, CPU). Only the release configuration."""

    sample_rate, frame_size = 24_000, 1920

    def __init__(self, path: str | Path, num_codebooks: int = 8):
        import rustymimi

        self._path, self.num_codebooks = str(path), num_codebooks
        try:
            self._tok = rustymimi.Tokenizer(self._path, num_codebooks=num_codebooks)
        except Exception as e:
            raise CheckpointError(f"rustymimi cannot load {path}: {e}") from None

    def reset(self) -> None:
        self._tok.reset()

    def encode_frame(self, pcm: np.ndarray) -> np.ndarray:
        pcm = _check_frame(pcm, self.frame_size)
        codes = self._tok.encode_step(pcm.reshape(1, 1, -1))
        return np.asarray(codes).reshape(-1)[: self.num_codebooks].astype(np.int32)

    def decode_frame(self, codes: np.ndarray) -> np.ndarray:
        codes = _check_codes(codes, self.num_codebooks, 2048).astype(np.uint32)
        pcm = self._tok.decode_step(codes.reshape(1, -1, 1))
        return np.asarray(pcm, dtype=np.float32).reshape(-1)


def _check_frame(pcm: np.ndarray, frame_size: int) -> np.ndarray:
    pcm = np.ascontiguousarray(pcm, dtype=np.float32).reshape(-1)
    if pcm.shape[0] != frame_size:
        raise ValueError(f"codec frame must hold {frame_size} samples, got {pcm.shape[0]}")
    return pcm


def _check_codes(codes: np.ndarray, k: int, card: int, fewer: bool = False) -> np.ndarray:
    codes = np.ascontiguousarray(codes).reshape(-1)
    if not (1 <= codes.shape[0] <= k if fewer else codes.shape[0] == k):
        raise ValueError(f"codec frame must hold {'1 to ' if fewer else ''}{k} codes, got {codes.shape[0]}")
    if codes.size and (codes.min() < 0 or codes.max() >= card):
        raise ValueError(f"codes must lie in 0..{card - 1}, got {codes.min()}..{codes.max()}")
    return codes.astype(np.int32)


def open_codec(path: str | Path, backend: str = "mlx", num_codebooks: int = 8,
               config: MimiConfig | None = None, share=None) -> StreamingCodec:
    """A streaming codec on the Mimi weights at `path` (release safetensors format). `share`: a
    MimiShare (mimi/share.py) whose Mimi an MLX codec reuses when the weights are the same."""
    if backend == "mlx" and share is not None:
        return share.open(path, num_codebooks, config)
    if backend == "mlx":
        from .weights import load_mimi

        return MlxCodec(load_mimi(path, num_codebooks=num_codebooks, config=config))
    if backend == "rustymimi":
        if config is not None and config != MimiConfig.moshi():
            raise ConfigError("the rustymimi backend only runs the release Mimi configuration")
        if not Path(path).is_file():
            raise CheckpointError(f"Mimi weights file not found: {path}")
        return RustyMimiCodec(path, num_codebooks)
    raise ConfigError(f"unknown codec backend {backend!r} (choose from {', '.join(BACKENDS)})")


def find_mimi_file(folder: str | Path) -> Path:
    """The Mimi weights of a model folder: config.json's "mimi_name", else tokenizer-*.safetensors."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"model folder not found: {folder}")
    config_path = folder / "config.json"
    if config_path.is_file():
        name = read_json_object(config_path).get("mimi_name")
        if name:
            path = folder / name
            if not path.is_file():
                raise CheckpointError(f"{config_path} names Mimi weights {name!r}, not found in {folder}")
            return path
    found = sorted(folder.glob("tokenizer-*.safetensors"))
    if not found:
        raise CheckpointError(f"no Mimi weights in {folder} (expected tokenizer-*.safetensors or "
                              "a config.json with \"mimi_name\")")
    return found[0]


def folder_mimi_config(folder: str | Path) -> MimiConfig | None:
    """The "mimi_config" of a model folder's config.json, if it has one."""
    config_path = Path(folder) / "config.json"
    if not config_path.is_file():
        return None
    d = read_json_object(config_path).get("mimi_config")
    return MimiConfig.from_dict(d, source=f"{config_path} \"mimi_config\"") if d else None
