"""One MLX Mimi for models loaded together that name the same Mimi weights.

The assistant's STT only encodes and its TTS only decodes, and Kyutai's STT 1B and TTS 1.6B name
the same Mimi checkpoint (e351c8d8, epoch 125, under two file names in two repositories): one model
(0.38 GB in float32) serves both. A Mimi holds no stream state itself (MimiState is the caller's):
each codec opened here gets its own state, so the two streams never meet."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from .config import MimiConfig

_SHA256_NAME = re.compile(r"[0-9a-f]{64}")


def same_bytes(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when two files hold the same bytes: the same file, two Hugging Face cache blobs of the
    same SHA-256 (blobs are named by it: nothing is read), or equal sizes and equal SHA-256."""
    a, b = Path(a), Path(b)
    if os.path.samefile(a, b):
        return True
    ra, rb = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    if ra.parent.name == rb.parent.name == "blobs" and _SHA256_NAME.fullmatch(ra.name) \
            and _SHA256_NAME.fullmatch(rb.name):
        return ra.name == rb.name
    return a.stat().st_size == b.stat().st_size and _sha256(a) == _sha256(b)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


class MimiShare:
    """Opens MLX codecs, reusing an earlier codec's Mimi for the same weights, configuration and
    number of codebooks (an encoder of 32 codebooks is not one of 24). `shared`: codecs that
    reused a model."""

    def __init__(self):
        self._models: list[tuple[Path, MimiConfig, int, object]] = []
        self.shared = 0

    def open(self, path: str | os.PathLike, num_codebooks: int, config: MimiConfig | None = None):
        from .codec import MlxCodec
        from .weights import load_mimi

        config = config or MimiConfig.moshi()
        for known, known_config, n, model in self._models if Path(path).is_file() else ():
            if n == num_codebooks and known_config == config and same_bytes(known, path):
                self.shared += 1
                return MlxCodec(model)
        codec = MlxCodec(load_mimi(path, num_codebooks=num_codebooks, config=config))
        self._models.append((Path(path), config, num_codebooks, codec.model))
        return codec
