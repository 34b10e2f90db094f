"""PersonaPlex's StreamSetup: Moshi's 8 codebooks generated (the depformer's other 8 are the user's),
and every stream started with the persona's prompt (voice + role).

Options (EngineOptions.kind_options / FrameEngine options): "voice" (a voice name, a voice file,
one of NVIDIA's .pt files, an audio recording, or a Voice; default: the model's first voice) and
"role" (the role text; default: none)."""

from __future__ import annotations

import os
from pathlib import Path

from ..engine.setup import StreamSetup
from .prompt import Persona, build_prompt, run_prompt
from .voices import Voice, VoiceError, list_voices, resolve_voice


def model_folder(model) -> Path:
    return Path(model.files.lm_path).parent


def default_voice(model) -> str | None:
    voices = [v for v in list_voices(model_folder(model)) if v.origin == "model"]
    return voices[0].name if voices else None


def _voice_cache(lm) -> dict:
    cache = getattr(lm, "_persona_voices", None)
    if cache is None:
        cache = {}
        object.__setattr__(lm, "_persona_voices", cache)
    return cache


def load_persona_voice(model, spec) -> Voice | None:
    """The Voice for `spec` (see the module doc), kept on the model per file version: a recording is
    encoded once, not at every conversation."""
    if spec is None or isinstance(spec, Voice):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise VoiceError(f"voice {spec!r}: give a name, a file or a Voice")
    spec = os.fspath(spec)
    path = Path(spec).expanduser()
    stamp = (path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else None
    cache = _voice_cache(model.lm)
    key = (spec, stamp)
    if key not in cache:
        moshi = model.lm.config.n_q // 2
        cache[key] = resolve_voice(spec, model_folder(model), model.codec, moshi)
        cache[key].fingerprint()
    return cache[key]


class PersonaSetup(StreamSetup):
    accepted_options = ("voice", "role")

    def __init__(self, model, sampling, options=None):
        super().__init__(model, sampling, options)
        spec = self.options.get("voice") or default_voice(model)
        role = self.options.get("role") or ""
        if not isinstance(role, str):
            raise VoiceError(f"role {role!r}: give the role as text")
        voice = load_persona_voice(model, spec)
        self.persona = Persona(voice, role)
        self.prompt = build_prompt(model.lm.config, model.tokenizer, self.persona)
        self.restored = False  # the last start restored a kept prompt state

    @classmethod
    def codec_codebooks(cls, config) -> int:
        return config.n_q // 2  # Moshi's 8 out, the user's 8 in (NVIDIA's Mimi has 8 codebooks)

    def generator_kwargs(self) -> dict:
        return {"codebooks": self.model.lm.config.n_q // 2}

    def start(self, gen) -> None:
        self.restored = run_prompt(gen, self.prompt, self.persona.key())


def make_user_voice(model, name: str, pcm, rate: int = 24000) -> Path:
    """Save a recording (mono float32 at `rate`, 1-30 s) as the user's voice `name`, encoded by the
    loaded model's Mimi (the app's "Use my voice..."; MLX: call it on the MLX worker)."""
    import numpy as np

    from ..audio_io import resample
    from .voices import MAX_SECONDS, MIN_SECONDS, check_name, save_voice, user_voice_dir, voice_from_audio

    pcm = resample(np.asarray(pcm, np.float32).reshape(-1), rate, 24000)
    if not MIN_SECONDS <= len(pcm) / 24000 <= MAX_SECONDS:
        raise VoiceError(f"a voice recording must last {MIN_SECONDS:.0f}-{MAX_SECONDS:.0f} s, this one "
                         f"{len(pcm) / 24000:.1f} s")
    voice = voice_from_audio(pcm, model.codec, check_name(name), model.lm.config.n_q // 2, "recording")
    return save_voice(voice, user_voice_dir() / f"{name}.safetensors")


def voice_preview(model, spec, seconds: float = 3.0, seed: int = 0):
    """A few seconds of audio to hear a voice (24 kHz float32). A voice stored as codes is decoded
    as the model hears it; NVIDIA's voices keep only embeddings, so the model speaks with that
    voice prompt (over silence) instead. MLX: call it on the MLX worker."""
    import numpy as np

    from ..engine.core import FrameEngine, Sampling

    voice = load_persona_voice(model, spec)
    codec = model.codec
    codec.reset()
    try:
        if voice is not None and (voice.codes >= 0).all():
            frames = voice.codes[: int(seconds * 12.5)]
            return np.concatenate([np.asarray(codec.decode_frame(c), np.float32) for c in frames])
        engine = FrameEngine(model, Sampling(seed=seed), {"voice": voice})
        silence = np.zeros(codec.frame_size, np.float32)
        return np.concatenate([engine.step(silence).pcm for _ in range(int(seconds * 12.5))])
    finally:
        codec.reset()
