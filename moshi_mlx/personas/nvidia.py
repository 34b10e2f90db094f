"""NVIDIA's 16 PersonaPlex voices (`voices.tgz`: NATF0-3, NATM0-3, VARF0-4, VARM0-4 as `.pt` files)
converted once into our voice files, without unpickling any code (torch_pickle.py).

Each .pt holds what the reference saved after running a voice prompt through the model:
`embeddings` [E, 1, 1, dim], the summed input embeddings of positions 0..E-1 (E = frames - 1: the
prompt's first call runs nothing), and `cache` [1, 1 + n_q, max_delay + 3], the reference's token
ring at offset E + 1 = T. The ring still holds the tokens of position T - 1 (all streams) and the
delayed streams of position T; we keep Moshi's codes of the voice's last two frames from it
(frame T - 1: codebook 0 at position T - 1, codebooks 1-7 at T; frame T - 2: codebooks 1-7 at T - 1)
and check that its text and user streams are what the protocol puts there (PAD, the sine)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np

from .torch_pickle import RawTensor, read_torch_file
from .voice_file import Voice, VoiceError, model_voice_dir, save_voice, user_voice_dir

ARCHIVE = "voices.tgz"
_MAX_MEMBER_BYTES = 64 << 20  # a voice file is ~0.5 MB: refuse anything absurd


def voice_from_pt(data: bytes | None, name: str, source: str, path: Path | None = None) -> Voice:
    obj = read_torch_file(path or source, data)
    if not isinstance(obj, dict) or not isinstance(obj.get("embeddings"), RawTensor) \
            or not isinstance(obj.get("cache"), RawTensor):
        raise VoiceError(f"{source}: not a PersonaPlex voice file (expected a dict with tensors "
                         "'embeddings' and 'cache')")
    emb, cache = obj["embeddings"], obj["cache"]
    if emb.dtype not in ("BFloat16Storage", "HalfStorage", "FloatStorage") or emb.array.ndim != 4 \
            or emb.shape[1:3] != (1, 1) or emb.shape[0] < 1:
        raise VoiceError(f"{source}: 'embeddings' must be floats [frames, 1, 1, dim], got "
                         f"{emb.dtype.replace('Storage', '')} {list(emb.shape)}")
    if cache.dtype not in ("LongStorage", "IntStorage") or cache.array.ndim != 3 or cache.shape[0] != 1 \
            or cache.shape[1] < 3 or cache.shape[2] < 3:
        raise VoiceError(f"{source}: 'cache' must be integers [1, streams, slots], got "
                         f"{cache.dtype.replace('Storage', '')} {list(cache.shape)}")
    ring = cache.array[0].astype(np.int64)
    streams, slots = ring.shape
    moshi = (streams - 1) // 2
    frames = emb.shape[0] + 1
    last, nxt = ring[:, (frames - 1) % slots], ring[:, frames % slots]
    codes = np.full((frames, moshi), -1, np.int64)
    codes[-1, 0], codes[-1, 1:] = last[1], nxt[2:1 + moshi]
    codes[-2, 1:] = last[2:1 + moshi]
    _check_protocol(last, nxt, moshi, source)
    import mlx.core as mx

    raw = emb.array.reshape(emb.shape[0], emb.shape[3])
    embeddings = mx.array(raw).view(mx.bfloat16) if emb.dtype == "BFloat16Storage" else mx.array(raw)
    return Voice(name, codes, embeddings, source)


def _check_protocol(last: np.ndarray, nxt: np.ndarray, moshi: int, source: str) -> None:
    """The voice prompt gives text PAD and the user's sine: the ring must show them."""
    from .protocol import SINE_TOKENS

    text_pad = 3
    sine = np.array(SINE_TOKENS[:moshi])
    if last[0] != text_pad or last[1 + moshi] != sine[0] or (nxt[2 + moshi:] != sine[1:]).any():
        raise VoiceError(f"{source}: its token cache does not hold PersonaPlex's voice-prompt tokens "
                         "(text PAD, user sine): not a voice file of this model")


def voice_from_pt_file(path: Path) -> Voice:
    path = Path(path)
    if not path.is_file():
        raise VoiceError(f"voice file {path}: no such file")
    return voice_from_pt(None, path.stem, str(path), path)


def _members(archive: Path):
    """(name, bytes) of every `.pt` in the archive, read in memory (nothing extracted to disk)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if not member.isfile() or not base.endswith(".pt") or base.startswith("."):
                    continue
                if member.size > _MAX_MEMBER_BYTES:
                    raise VoiceError(f"{archive}: {member.name} is {member.size} bytes, not a voice file")
                yield base[:-3], tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise VoiceError(f"{archive}: unreadable voice archive ({e})") from None


def convert_archive(archive: Path, out_dir: Path) -> list[Path]:
    """Convert every voice of `archive` into `out_dir/NAME.safetensors` (existing files are kept:
    converted once). All are read and checked before any is written. Returns the files written."""
    voices = [voice_from_pt(data, name, f"{archive}:{name}.pt") for name, data in _members(archive)
              if not (out_dir / f"{name}.safetensors").exists()]
    return [save_voice(Voice(v.name, v.codes, v.embeddings, f"{ARCHIVE}:{v.name}.pt"),
                       out_dir / f"{v.name}.safetensors") for v in voices]


def ensure_model_voices(model_folder: str | os.PathLike) -> Path | None:
    """The folder of a model's voices: `<folder>/voices/`, filled from `<folder>/voices.tgz` on first
    use. When the model folder is read-only, the voices go to $MOSHI_MLX_HOME/voices/models/<id>/."""
    folder = Path(model_folder)
    archive = folder / ARCHIVE
    target = model_voice_dir(folder)
    if not archive.is_file():
        return target if target.is_dir() else None
    try:
        target.mkdir(exist_ok=True)
        convert_archive(archive, target)
        return target
    except OSError:  # read-only (permissions, a read-only volume...)
        import hashlib

        key = hashlib.sha256(str(archive.resolve()).encode()).hexdigest()[:16]
        fallback = user_voice_dir() / "models" / key
        fallback.mkdir(parents=True, exist_ok=True)
        convert_archive(archive, fallback)
        return fallback


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """A voices.tgz in memory (`voices/NAME.pt` members): for demos and tests."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"voices/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
