"""The Moshi LM configuration, named like Kyutai's PyTorch `lm_kwargs` (and config.json files)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config_check import check_lm_config
from ..errors import ConfigError
from ..jsonfile import read_json_object

# Keys a Kyutai or our config.json may carry that do not describe the LM architecture.
METADATA_KEYS = frozenset({
    "quantization", "quantization_config", "mimi_name", "moshi_name", "tokenizer_name",
    "mimi_config", "model_type", "lm_gen_config", "model_id", "stt_config", "tts_config", "lora_name",
    "dtype", "version", "lora", "lora_rank", "lora_scaling", "mimi_config_name",
    "depformer_context", "depformer_causal",  # PyTorch ignores both (depformer context = dep_q)
})

# Architecture options this implementation does not provide; accepted only at these values.
UNSUPPORTED_DEFAULTS: dict[str, Any] = {
    "layer_scale": None, "depformer_layer_scale": None, "norm_emb": False, "bias_proj": False,
    "demux_second_text_stream": False, "causal": True,
}
# Kyutai's config.json writes `demux_second_stream`; its LMModel argument is the longer name.
_ALIASES = {"demux_second_text_stream": "demux_second_stream"}

_NORM_EPS = {"rms_norm_f32": 1e-8, "rms_norm": 1e-5, "layer_norm": 1e-5}
_ACTIVATIONS = ("silu", "gelu")
_POS_EMBS = ("rope", "rope_concat", "none")


def gated_hidden(dim: int, dim_feedforward: int) -> int:
    """Width of a gated feed-forward (Kyutai's ActivationGating rule)."""
    return (21 * dim) // 8 if dim_feedforward == 4 * dim else (2 * dim_feedforward) // 3


@dataclass(frozen=True)
class LmConfig:
    """Moshi RQ-transformer: a temporal transformer over frames, a depformer over codebooks."""

    dim: int = 4096
    num_heads: int = 32
    num_layers: int = 32
    hidden_scale: float = 4.125
    context: int = 3000
    max_period: float = 10_000
    norm: str = "rms_norm_f32"
    gating: str = "silu"
    positional_embedding: str = "rope"
    text_card: int = 32000
    text_card_out: int | None = None
    existing_text_padding_id: int = 3
    existing_text_end_padding_id: int = 0
    card: int = 2048
    n_q: int = 16
    dep_q: int = 8
    delays: tuple[int, ...] = (0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1)
    depformer_dim: int = 1024
    depformer_num_heads: int = 16
    depformer_num_layers: int = 6
    depformer_dim_feedforward: int | None = int(4.125 * 1024)
    depformer_multi_linear: bool = True
    depformer_weights_per_step: bool = True
    depformer_weights_per_step_schedule: tuple[int, ...] | None = None
    depformer_pos_emb: str = "none"
    depformer_max_period: float = 10_000
    depformer_gating: str | None = None  # None: same as `gating`
    depformer_low_rank_embeddings: int | None = None  # depformer input tables [vocab, r] + r -> dim
    depformer_norm: str | None = None  # a norm before each codebook's output linear (None: none)
    kv_repeat: int = 1  # grouped-query attention: num_heads / kv_repeat key-value heads
    depformer_kv_repeat: int | None = None  # None: kv_repeat, as the PyTorch depformer inherits it
    demux_second_stream: bool = False  # text tokens carry a second (look-ahead) text stream
    extra_heads_num_heads: int = 0  # heads on the temporal output (STT's end-of-turn)
    extra_heads_dim: int = 6
    conditioners: dict = field(default_factory=dict, compare=False)  # Kyutai's conditioner specs
    fuser: dict | None = field(default=None, compare=False)  # which conditions are summed / crossed
    cross_attention: bool = False  # temporal layers attend to the `cross` conditions
    extra: dict = field(default_factory=dict, compare=False)  # metadata keys, kept for round trips

    def __post_init__(self):
        problems = []
        if len(self.delays) != self.n_q + 1:
            problems.append(f"delays has {len(self.delays)} entries, expected n_q + 1 = {self.n_q + 1}")
        if any(d < 0 for d in self.delays):
            problems.append("delays must be >= 0")
        if not 0 <= self.dep_q <= self.n_q:
            problems.append(f"dep_q={self.dep_q} must be within [0, n_q={self.n_q}]")
        if self.dim % self.num_heads:
            problems.append(f"dim={self.dim} is not a multiple of num_heads={self.num_heads}")
        for key, heads in (("kv_repeat", self.num_heads), ("depformer_kv_repeat", self.depformer_num_heads)):
            value = getattr(self, key)
            if value is not None and (value < 1 or heads % value):
                problems.append(f"{key}={value} must be >= 1 and divide the number of heads ({heads})")
        if self.depformer_norm is not None and self.depformer_norm not in _NORM_EPS:
            problems.append(f"depformer_norm={self.depformer_norm!r} is not one of {sorted(_NORM_EPS)}")
        if self.norm == "layer_norm":
            problems.append("norm='layer_norm' is not supported for the transformers (rms_norm, rms_norm_f32)")
        if self.depformer_low_rank_embeddings is not None and self.depformer_low_rank_embeddings < 1:
            problems.append("depformer_low_rank_embeddings must be a positive width or null")
        if self.extra_heads_num_heads < 0 or self.extra_heads_dim < 1:
            problems.append("extra_heads_num_heads must be >= 0 and extra_heads_dim >= 1")
        from .conditioners import check_conditioning  # here: conditioners.py imports this module

        problems += check_conditioning(self)
        if self.dep_q and self.depformer_dim % self.depformer_num_heads:
            problems.append(f"depformer_dim={self.depformer_dim} is not a multiple of "
                            f"depformer_num_heads={self.depformer_num_heads}")
        if self.norm not in _NORM_EPS:
            problems.append(f"norm={self.norm!r} is not one of {sorted(_NORM_EPS)}")
        for key in ("gating", "depformer_gating"):
            value = getattr(self, key)
            if value is not None and value not in _ACTIVATIONS:
                problems.append(f"{key}={value!r} is not one of {_ACTIVATIONS}")
        for key in ("positional_embedding", "depformer_pos_emb"):
            if getattr(self, key) not in _POS_EMBS:
                problems.append(f"{key}={getattr(self, key)!r} is not one of {_POS_EMBS}")
        if self.context is None or self.context < 1:
            problems.append(f"context={self.context} must be a positive number of frames")
        sched = self.depformer_weights_per_step_schedule
        if sched is not None and (len(sched) != self.dep_q or min(sched) < 0):
            problems.append(f"depformer_weights_per_step_schedule must have dep_q={self.dep_q} "
                            "non-negative entries")
        if not isinstance(self.depformer_dim_feedforward, (int, type(None))):
            problems.append("depformer_dim_feedforward must be an integer (lists are not supported)")
        if problems:
            raise ConfigError("invalid Moshi LM config: " + "; ".join(problems))

    # --- derived sizes -------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def depformer_head_dim(self) -> int:
        return self.depformer_dim // self.depformer_num_heads

    @property
    def num_kv_heads(self) -> int:
        return self.num_heads // self.kv_repeat

    @property
    def depformer_num_kv_heads(self) -> int:
        repeat = self.kv_repeat if self.depformer_kv_repeat is None else self.depformer_kv_repeat
        return self.depformer_num_heads // repeat

    @property
    def mimi_codebooks(self) -> int:
        """Codebooks the codec must produce or decode: the larger of the generated and the given
        streams (Kyutai's loader rule): 8 for Moshi, 32 for STT and TTS."""
        return max(self.dep_q, self.n_q - self.dep_q)

    @property
    def hidden_dim(self) -> int:
        """Gated hidden width of the temporal feed-forward (11264 for Moshi 7B)."""
        return gated_hidden(self.dim, int(self.hidden_scale * self.dim))

    @property
    def depformer_hidden_dim(self) -> int:
        """Gated hidden width of the depformer feed-forward (2816 for Moshi 7B)."""
        ff = self.depformer_dim_feedforward
        if ff is None:
            ff = int(self.hidden_scale * self.depformer_dim)
        return gated_hidden(self.depformer_dim, ff)

    @property
    def num_codebooks(self) -> int:
        """Streams in the temporal input: text + n_q audio."""
        return self.n_q + 1

    @property
    def user_codebooks(self) -> int:
        """Audio streams given by the caller (the user's codes), not generated."""
        return self.n_q - self.dep_q

    @property
    def text_out_vocab(self) -> int:
        return self.text_card if self.text_card_out is None else self.text_card_out

    @property
    def text_initial_token(self) -> int:
        return self.text_card

    @property
    def audio_initial_token(self) -> int:
        return self.card

    @property
    def max_delay(self) -> int:
        return max(self.delays)

    @property
    def norm_eps(self) -> float:
        return _NORM_EPS[self.norm]

    @property
    def depformer_activation(self) -> str:
        return self.depformer_gating or self.gating

    @property
    def depformer_schedule(self) -> tuple[int, ...]:
        """Weight-set index used by each depformer step (slice)."""
        if self.depformer_weights_per_step_schedule is not None:
            return tuple(self.depformer_weights_per_step_schedule)
        if self.depformer_weights_per_step:
            return tuple(range(self.dep_q))
        return (0,) * self.dep_q

    @property
    def depformer_num_weights(self) -> int:
        """Weight sets stacked in the PyTorch depformer (attention / gating), >= 1."""
        return max(self.depformer_schedule, default=0) + 1

    @property
    def depformer_in_index(self) -> tuple[int, ...]:
        """Which PyTorch `depformer_in.{i}` linear each depformer step uses."""
        if not self.depformer_multi_linear:
            return (0,) * self.dep_q
        if self.depformer_weights_per_step_schedule is not None:
            return tuple(self.depformer_weights_per_step_schedule)
        return tuple(range(self.dep_q))

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def moshi_7b(cls) -> "LmConfig":
        """Kyutai's Moshi 7B (moshiko / moshika): the config implied by repos without config.json."""
        return cls()

    @classmethod
    def hibiki_1b(cls) -> "LmConfig":
        """The 1B class (dim 2048, 16 layers, text vocab 48000, acoustic delay 2)."""
        return cls(dim=2048, num_heads=16, num_layers=16, max_period=100_000, text_card=48000,
                   delays=(0,) + ((0,) + (2,) * 7) * 2)

    @property
    def is_conditioned(self) -> bool:
        return bool(self.conditioners)

    @classmethod
    def tiny(cls, **overrides) -> "LmConfig":
        """A small model with the 7B's structure (8+8 streams, per-step depformer weights)."""
        base = dict(dim=64, num_heads=4, num_layers=2, hidden_scale=4.125, context=16,
                    text_card=96, card=40, depformer_dim=32, depformer_num_heads=2,
                    depformer_num_layers=2, depformer_dim_feedforward=int(4.125 * 32))
        base.update(overrides)
        return cls.from_dict(base)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "LmConfig":
        """Build from Kyutai `lm_kwargs` names. Unknown keys, unsupported values -> ConfigError."""
        check_lm_config(cls, data, source)  # types and ranges of every field, naming the file
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        if all(key in METADATA_KEYS for key in data):  # e.g. NVIDIA's PersonaPlex config.json
            from .releases import kind_architecture

            data = {**kind_architecture(data.get("model_type")), **data}
        kwargs, extra, problems = {}, {}, []
        for key, value in data.items():
            key = _ALIASES.get(key, key)
            if key in names:
                kwargs[key] = value
            elif key in METADATA_KEYS:
                extra[key] = value
            elif key in UNSUPPORTED_DEFAULTS:
                default = UNSUPPORTED_DEFAULTS[key]
                if not (value == default or (not value and not default)):
                    problems.append(f"{key}={value!r} (only {UNSUPPORTED_DEFAULTS[key]!r} is supported)")
            else:
                problems.append(f"unknown key {key!r}")
        if problems:
            raise ConfigError(f"{source}: " + "; ".join(problems))
        for key in ("delays", "depformer_weights_per_step_schedule"):
            if kwargs.get(key) is not None:
                kwargs[key] = tuple(int(v) for v in kwargs[key])
        if "cross_attention" in kwargs:  # some exporters wrote the fuser's (empty) cross list
            kwargs["cross_attention"] = bool(kwargs["cross_attention"])
        if kwargs.get("conditioners") is None and "conditioners" in kwargs:
            kwargs["conditioners"] = {}
        try:
            return cls(**kwargs, extra=extra)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_json(cls, path: str | Path) -> "LmConfig":
        return cls.from_dict(read_json_object(path, ConfigError), source=str(path))

    def to_dict(self, with_extra: bool = True) -> dict:
        """Kyutai `lm_kwargs` names (what from_dict reads back); metadata keys included."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        if with_extra:
            out.update(self.extra)
        return out

    def pytorch_kwargs(self) -> dict:
        """kwargs for Kyutai's PyTorch `get_moshi_lm(lm_kwargs=...)` (used by the parity tests)."""
        kw = self.to_dict(with_extra=False)
        kw.update(causal=True, layer_scale=None, depformer_layer_scale=None,
                  depformer_gating=self.depformer_activation,
                  depformer_dim_feedforward=self.depformer_dim_feedforward
                  if self.depformer_dim_feedforward is not None else int(self.hidden_scale * self.depformer_dim))
        for key in ("text_card_out", "depformer_weights_per_step_schedule", "depformer_kv_repeat",
                    "depformer_low_rank_embeddings", "depformer_norm", "fuser"):
            if kw[key] is None:
                kw.pop(key)
        if not kw["conditioners"]:
            kw.pop("conditioners")
        kw["demux_second_text_stream"] = kw.pop("demux_second_stream")
        for key in ("fuser", "conditioners"):  # Kyutai's loader edits these dicts: give copies
            if key in kw:
                kw[key] = copy.deepcopy(kw[key])
        return kw
