"""Voices: what makes the TTS speak as someone.

Kyutai's TTS 1.6B reads precomputed speaker embeddings (`speaker_wavs` [1, 512, T], T = 125 for
10 s of speech) through cross-attention; up to `max_speakers` (5) voices share one condition
tensor, each in its own slot (a dialogue's main speaker first), empty slots masked. Models without
a speaker condition (the 0.75B) take the voice as an audio prefix: a short recording, Mimi-encoded,
that the model continues. Facts from moshi 0.2.13 `TTSModel.make_condition_attributes` and
`get_prefix`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MoshiError
from .info import TtsInfo

EMBEDDING_KEY = "speaker_wavs"
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aiff", ".aif")


class VoiceError(MoshiError):
    """A voice that does not exist, cannot be read, or does not fit the model."""

    error_kind = "voice"


@dataclass(frozen=True)
class Voice:
    name: str
    embedding: np.ndarray | None = None  # [T, dim] float32 (speaker-condition models)
    audio: np.ndarray | None = None  # 24 kHz mono float32 (audio-prefix models)


def load_voice_file(path: str | Path, name: str | None = None) -> Voice:
    """A voice embedding (.safetensors with `speaker_wavs` [1, dim, T]) or a recording."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise VoiceError(f"voice file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as e:
            raise VoiceError(f"voice file {path}: not a readable safetensors file ({e})") from None
        emb = tensors.get(EMBEDDING_KEY)
        if emb is None or emb.ndim != 3 or emb.shape[0] != 1 or emb.shape[2] < 1:
            shape = None if emb is None else list(emb.shape)
            raise VoiceError(f"voice file {path}: expected a tensor {EMBEDDING_KEY!r} [1, dim, frames], "
                             f"found {shape if emb is not None else sorted(tensors)}")
        return Voice(name, embedding=np.ascontiguousarray(emb[0].T, dtype=np.float32))
    if path.suffix.lower() in AUDIO_SUFFIXES:
        from .. import audio_io

        return Voice(name, audio=audio_io.read_audio(path))
    raise VoiceError(f"voice file {path}: expected a voice embedding (.safetensors) or a recording "
                     f"({', '.join(AUDIO_SUFFIXES)})")


def check_voices(info: TtsInfo, voices: list[Voice], model_name: str) -> None:
    """The voices fit the model: embeddings of the right width for speaker-condition models (at
    most max_speakers, equal lengths), exactly one recording for audio-prefix models."""
    if not voices:
        raise VoiceError(f"{model_name} needs a voice")
    if info.multi_speaker:
        if len(voices) > info.max_speakers:
            raise VoiceError(f"{model_name} takes at most {info.max_speakers} voices, got {len(voices)}")
        for v in voices:
            if v.embedding is None:
                raise VoiceError(f"voice {v.name}: {model_name} needs a voice embedding "
                                 f"(*{info.voice_suffix or '.safetensors'}), not a recording")
            if v.embedding.shape[1] != info.speaker_dim:
                raise VoiceError(f"voice {v.name}: embedding width {v.embedding.shape[1]}, the model's "
                                 f"speaker condition takes {info.speaker_dim} (a voice for another model?)")
        lengths = {v.embedding.shape[0] for v in voices}
        if len(lengths) > 1:
            raise VoiceError(f"voices have different lengths ({sorted(lengths)} frames): use voices "
                             "made the same way")
        return
    if len(voices) != 1 or voices[0].audio is None:
        raise VoiceError(f"{model_name} takes its voice from one recording (an audio prefix), "
                         f"got {', '.join(v.name for v in voices)}")


def speaker_condition(info: TtsInfo, voices: list[Voice]) -> tuple[np.ndarray, np.ndarray]:
    """The speaker condition of up to max_speakers voices: (tensor [slots * T, dim], mask)."""
    frames = voices[0].embedding.shape[0]
    tensor = np.zeros((info.max_speakers, frames, info.speaker_dim), np.float32)
    mask = np.zeros((info.max_speakers, frames), bool)
    for slot, voice in enumerate(voices):
        tensor[slot], mask[slot] = voice.embedding, True
    return tensor.reshape(-1, info.speaker_dim), mask.reshape(-1)


def condition_values(info: TtsInfo, voices: list[Voice], cfg: float, conditioners) -> dict:
    """Every conditioner's value: the speakers, cfg (distilled models), "ok" for `control`."""
    values = {}
    for name, spec in conditioners.items():
        if name == info.speaker_condition:
            values[name] = speaker_condition(info, voices)
        elif name == "cfg" and info.cfg_values:
            values[name] = cfg_value(info, cfg)
        elif spec.get("type") == "lut":
            possible = spec["lut"].get("possible_values") or []
            values[name] = "ok" if "ok" in possible else None
        else:
            values[name] = None
    return values


def cfg_value(info: TtsInfo, cfg: float) -> str:
    if cfg not in info.cfg_values:
        raise ConfigError(f"--cfg {cfg:g}: this model was trained with the cfg values "
                          + ", ".join(f"{v:g}" for v in info.cfg_values))
    return format(cfg, ".1f")
