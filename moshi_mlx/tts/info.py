"""What a TTS model's config.json says about how to drive it (Kyutai's `tts_config`, `model_id`,
conditioners), read once: the model's kind and shape come from its config, never from its name."""

from __future__ import annotations

from dataclasses import dataclass

from .. import FRAME_RATE
from ..errors import ConfigError
from ..kinds import check_kind
from .machine import TokenIds


@dataclass(frozen=True)
class TtsInfo:
    delay_steps: int  # frames the audio lags behind the text (1.28 s -> 16)
    lookahead: int  # the second text stream shows the word this many words ahead (0: none)
    max_speakers: int  # voice slots of the speaker condition
    speaker_condition: str | None  # the tensor conditioner fed voice embeddings (None: voice = audio prefix)
    speaker_dim: int  # width of one voice embedding frame (512)
    cfg_values: tuple[float, ...]  # CFG-distilled models: the cfg condition's values; () = real CFG
    voice_suffix: str  # ".<sig>@<epoch>.safetensors": the voice files made for this model
    token_ids: TokenIds
    dep_q: int
    n_q: int

    @property
    def multi_speaker(self) -> bool:
        return self.speaker_condition is not None

    @property
    def default_codebooks(self) -> int:
        """24 of 32 (Kyutai's servers); all of them when the model generates fewer than 24."""
        return min(24, self.dep_q)

    @classmethod
    def from_model(cls, model, used_by: str = "say") -> "TtsInfo":
        """`model`: a LoadedModel (or anything with .files.config/.files.name and .lm.config)."""
        check_kind(model.files.config, ("tts",), model.files.name, used_by)
        config = model.lm.config
        where = f"{model.files.name}: config.json"
        tts = config.extra.get("tts_config") or {}
        if "audio_delay" not in tts:
            raise ConfigError(f"{where}: tts_config.audio_delay is missing")
        if tts.get("multistream"):
            raise ConfigError(f"{where}: tts_config.multistream models are not supported")
        model_id = config.extra.get("model_id") or {}
        suffix = f".{model_id['sig']}@{model_id['epoch']}.safetensors" if "sig" in model_id else ""
        speaker, speaker_dim, cfg_values = None, 0, ()
        cross = tuple((config.fuser or {}).get("cross") or ())
        for name, spec in (config.conditioners or {}).items():
            if spec.get("type") == "tensor" and name in cross:
                speaker, speaker_dim = name, int(spec["tensor"]["dim"])
            elif name == "cfg" and spec.get("type") == "lut":
                cfg_values = tuple(float(v) for v in spec["lut"].get("possible_values") or ())
        if config.dep_q < 1:
            raise ConfigError(f"{where}: a TTS model needs a depformer (dep_q >= 1)")
        return cls(delay_steps=int(float(tts["audio_delay"]) * FRAME_RATE),
                   lookahead=int(tts.get("second_stream_ahead", 0)),
                   max_speakers=int(tts.get("max_speakers", 5)), speaker_condition=speaker,
                   speaker_dim=speaker_dim, cfg_values=cfg_values, voice_suffix=suffix,
                   token_ids=TokenIds(config.text_card + 1), dep_q=config.dep_q, n_q=config.n_q)
