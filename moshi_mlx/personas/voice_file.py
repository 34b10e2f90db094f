"""A PersonaPlex voice file (`NAME.safetensors`): its format, reading, writing and checks, and where
voice files live. The lower half of personas/voices.py (see there for the format); nvidia.py
writes NVIDIA's voices through it."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PersonaError

FORMAT = "voice"
VERSION = "1"
TARGET_LUFS = -24.0
MIN_SECONDS, MAX_SECONDS = 1.0, 30.0
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


class VoiceError(PersonaError):
    """A voice that cannot be used: unreadable, wrong shape or dtype, unknown name."""


@dataclass(frozen=True)
class Voice:
    name: str
    codes: np.ndarray  # [T, moshi codebooks] int64, -1 where not stored
    embeddings: object | None = None  # mx.array [E, dim] (or numpy) replayed for positions 0..E-1
    source: str = ""
    key: str = field(default="", compare=False)  # content fingerprint (persona cache key)

    @property
    def frames(self) -> int:
        return len(self.codes)

    def fingerprint(self) -> str:
        if self.key:
            return self.key
        h = hashlib.sha256(np.ascontiguousarray(self.codes, np.int64).tobytes())
        if self.embeddings is not None:
            h.update(_numpy(self.embeddings).tobytes())
        object.__setattr__(self, "key", h.hexdigest()[:32])
        return self.key


@dataclass(frozen=True)
class VoiceInfo:
    """A voice file as listed (read from its header only: no MLX, cheap)."""

    name: str
    path: Path
    frames: int
    origin: str  # "model" (shipped with the model) or "yours" (made from a recording)
    source: str = ""

    @property
    def seconds(self) -> float:
        return self.frames / 12.5


def _numpy(a) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    import mlx.core as mx

    return np.array(a.astype(mx.float32))


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name.strip() != name:
        raise VoiceError(f"voice name {name!r}: use 1-64 letters, digits, spaces, '.', '_' or '-'")
    return name


# ---- files -------------------------------------------------------------------------------------

def save_voice(voice: Voice, path: str | os.PathLike) -> Path:
    """Write `voice` atomically (temporary file, then rename); never over an existing file."""
    import mlx.core as mx

    path = Path(path)
    if path.exists():
        raise VoiceError(f"{path} already exists: choose another voice name or remove it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"codes": mx.array(np.where(voice.codes < 0, -1, voice.codes).astype(np.int32))}
    if voice.embeddings is not None:
        arrays["embeddings"] = mx.array(voice.embeddings)
    metadata = {"moshi_mlx": FORMAT, "version": VERSION, "name": voice.name, "source": voice.source}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".safetensors", dir=path.parent)
    os.close(fd)
    try:
        mx.save_safetensors(tmp, arrays, metadata=metadata)
        if path.exists():  # appeared meanwhile: keep theirs
            raise VoiceError(f"{path} already exists")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _header(path: Path):
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            shapes = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for malformed files
        raise VoiceError(f"{path}: not a readable voice file (safetensors): {e}") from None
    return meta, shapes


def voice_info(path: str | os.PathLike, origin: str) -> VoiceInfo:
    path = Path(path)
    meta, shapes = _header(path)
    codes = shapes.get("codes")
    if meta.get("moshi_mlx") != FORMAT or codes is None or len(codes[0]) != 2:
        raise VoiceError(f"{path}: not a voice file (no 'codes' [frames, codebooks] tensor and voice "
                         "metadata)")
    return VoiceInfo(meta.get("name") or path.stem, path, codes[0][0], origin, meta.get("source", ""))


def load_voice(path: str | os.PathLike) -> Voice:
    """Read and check a voice file (shapes, dtypes); the model check is `check_voice`."""
    import mlx.core as mx

    path = Path(path)
    info = voice_info(path, "file")
    try:
        arrays = mx.load(str(path))
    except Exception as e:
        raise VoiceError(f"{path}: not a readable voice file: {e}") from None
    unknown = set(arrays) - {"codes", "embeddings"}
    if unknown:
        raise VoiceError(f"{path}: unexpected tensors {sorted(unknown)} in a voice file")
    codes = arrays["codes"]
    if codes.dtype not in (mx.int32, mx.int64, mx.int16) or codes.ndim != 2 or codes.shape[0] < 2:
        raise VoiceError(f"{path}: 'codes' must be integers [frames >= 2, codebooks], got "
                         f"{codes.dtype} {list(codes.shape)}")
    emb = arrays.get("embeddings")
    if emb is not None:
        if emb.dtype not in (mx.bfloat16, mx.float16, mx.float32) or emb.ndim != 2:
            raise VoiceError(f"{path}: 'embeddings' must be floats [positions, dim], got "
                             f"{emb.dtype} {list(emb.shape)}")
        if emb.shape[0] != codes.shape[0] - 1:
            raise VoiceError(f"{path}: 'embeddings' covers {emb.shape[0]} positions, expected "
                             f"frames - 1 = {codes.shape[0] - 1}")
    return Voice(info.name, np.array(codes).astype(np.int64), emb, str(path))


def check_voice(voice: Voice, config, moshi: int) -> None:
    """Does `voice` fit this model (codebooks, code range, embedding width, stored frames)?"""
    codes = voice.codes
    where = voice.source or voice.name
    if codes.ndim != 2 or codes.shape[1] != moshi:
        raise VoiceError(f"voice {where}: codes of {codes.shape[1] if codes.ndim == 2 else '?'} "
                         f"codebooks, this model needs {moshi}")
    if codes.max(initial=-1) >= config.card or codes.min(initial=0) < -1:
        raise VoiceError(f"voice {where}: codes outside [0, {config.card}) for this model's codec")
    if voice.embeddings is not None and voice.embeddings.shape[1] != config.dim:
        raise VoiceError(f"voice {where}: embeddings of width {voice.embeddings.shape[1]}, this model's is "
                         f"{config.dim} (a voice of another model)")
    stored = 0 if voice.embeddings is None else voice.embeddings.shape[0]
    # positions from `stored` on are built from codes: frame p's first codebook, frame p-1's others
    need = [codes[stored:, 0], codes[max(stored - 1, 0):, 1:]]
    if any((c < 0).any() for c in need):
        raise VoiceError(f"voice {where}: codes missing for frames that have no stored embeddings")


# ---- from a recording --------------------------------------------------------------------------

# ---- where voices are --------------------------------------------------------------------------

def user_voice_dir() -> Path:
    from ..paths import default_home

    return default_home() / "voices"


def model_voice_dir(model_folder: str | os.PathLike) -> Path:
    return Path(model_folder) / "voices"
