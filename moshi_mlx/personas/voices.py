"""Voices for PersonaPlex: what the model hears of a voice in its prompt, stored as safetensors.

A voice file (`NAME.safetensors`) holds
  - `codes` int32 [T, 8]: Moshi's Mimi codes of the voice prompt, one row per 80 ms frame (-1 where
    not stored: NVIDIA's voices keep their first frames only as embeddings);
  - optionally `embeddings` [E, dim] (E = T - 1): the summed input embeddings of the prompt's first E
    positions, which the model replays instead of those codes (how NVIDIA ships its 16 voices);
  - metadata: "moshi_mlx" = "voice", "version", "name", "source".
A voice made from a recording has codes only: the audio is resampled to 24 kHz mono, normalised to
-24 LUFS (pyloudnorm, as the reference) and Mimi-encoded frame by frame.

Where voices live: a model's voices in `<model folder>/voices/` (NVIDIA's `voices.tgz` is converted
there once, see nvidia.py); the user's own in `$MOSHI_MLX_HOME/voices/` (any PersonaPlex model
with the same Mimi can use them)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MoshiError, PersonaError

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
    from ..outputs import new_file_mode

    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".safetensors", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, new_file_mode())  # the umask's permissions, not mkstemp's 0600
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

def normalize_loudness(pcm: np.ndarray, rate: int, target: float = TARGET_LUFS) -> np.ndarray:
    import pyloudnorm

    meter = pyloudnorm.Meter(rate)
    loudness = meter.integrated_loudness(pcm.astype(np.float64))
    if not np.isfinite(loudness):
        raise VoiceError("the recording is silent (no loudness to normalise): record some speech")
    import warnings

    with warnings.catch_warnings():  # pyloudnorm warns when the gain clips: the codec takes it
        warnings.simplefilter("ignore")
        return pyloudnorm.normalize.loudness(pcm.astype(np.float64), loudness, target).astype(np.float32)


def read_recording(path: str | os.PathLike, rate: int = 24000) -> np.ndarray:
    """A voice recording: any audio file, as 24 kHz mono float32; 1-30 s."""
    from .. import audio_io

    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"voice recording {path}: no such file")
    try:
        pcm = audio_io.read_audio(path, rate)
    except MoshiError as e:
        raise VoiceError(str(e)) from None
    seconds = len(pcm) / rate
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise VoiceError(f"voice recording {path}: {seconds:.1f} s long; use {MIN_SECONDS:.0f}-"
                         f"{MAX_SECONDS:.0f} s of one person speaking (5-10 s is best)")
    return pcm


def voice_from_audio(pcm: np.ndarray, codec, name: str, moshi: int, source: str = "",
                     rate: int = 24000) -> Voice:
    """Normalise to -24 LUFS and Mimi-encode frame by frame (the last frame zero-padded, as the
    reference) with `codec` (reset before and after)."""
    from ..audio_io import pad_to_frames

    pcm = pad_to_frames(normalize_loudness(np.asarray(pcm, np.float32), rate), codec.frame_size)
    codec.reset()
    try:
        codes = [np.asarray(codec.encode_frame(frame))[:moshi]
                 for frame in pcm.reshape(-1, codec.frame_size)]
    finally:
        codec.reset()
    return Voice(check_name(name), np.stack(codes).astype(np.int64), None, source)


# ---- where voices are --------------------------------------------------------------------------

def user_voice_dir() -> Path:
    from ..demo import default_home

    return default_home() / "voices"


def model_voice_dir(model_folder: str | os.PathLike) -> Path:
    return Path(model_folder) / "voices"


def list_voices(model_folder: str | os.PathLike | None = None) -> list[VoiceInfo]:
    """The model's voices (NVIDIA's voices.tgz converted on first call) then the user's, by name.
    Unreadable files are skipped (the `voices` command shows them with load_voice's error)."""
    found: list[VoiceInfo] = []
    dirs = []
    if model_folder is not None:
        from .nvidia import ensure_model_voices

        dirs.append((ensure_model_voices(model_folder), "model"))
    dirs.append((user_voice_dir(), "yours"))
    for folder, origin in dirs:
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.safetensors")):
            try:
                found.append(voice_info(path, origin))
            except VoiceError:
                continue
    return found


def resolve_voice(spec: str, model_folder: str | os.PathLike | None, codec=None, moshi: int = 8) -> Voice:
    """A voice from `spec`: a voice name (the model's, then the user's), a voice file
    (.safetensors), one of NVIDIA's .pt voice files, or an audio recording (encoded with `codec`)."""
    path = Path(spec).expanduser()
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        if codec is None:
            raise VoiceError(f"voice {spec}: a recording needs the model's codec")
        return voice_from_audio(read_recording(path), codec, _safe_stem(path), moshi, str(path))
    if suffix == ".safetensors":
        if not path.is_file():
            raise VoiceError(f"voice file {path}: no such file")
        return load_voice(path)
    if suffix == ".pt":
        from .nvidia import voice_from_pt_file

        return voice_from_pt_file(path)
    for info in list_voices(model_folder):
        if info.name == spec or info.path.stem == spec:
            return load_voice(info.path)
    names = ", ".join(sorted({i.name for i in list_voices(model_folder)})) or "none"
    raise VoiceError(f"unknown voice {spec!r}: not a file and not a known voice (known: {names}). "
                     "Give a name, a .safetensors voice file or a recording (.wav)")


def _safe_stem(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9 _.-]", "_", path.stem)[:64].strip() or "voice"
    return stem if stem[0].isalnum() else "v" + stem[:63]
