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

import os
import re
from pathlib import Path

import numpy as np

from ..errors import MoshiError
from .voice_file import (AUDIO_SUFFIXES, FORMAT, MAX_SECONDS, MIN_SECONDS, TARGET_LUFS, VERSION,  # noqa: F401
                         Voice, VoiceError, VoiceInfo, check_name, check_voice, load_voice, model_voice_dir,
                         save_voice, user_voice_dir, voice_info)


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
