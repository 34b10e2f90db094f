"""MoshiVis configuration: the vision tower's (HF SiglipVisionConfig keys) and the adapter's
(Kyutai's KyuteyeConfig keys that matter at inference), read from config.json.

Kyutai's releases ship no config.json. A folder is a MoshiVis one when its config.json says
`"model_type": "moshivis"` (what our converter and `demo-vis` write), or, without config.json, when
its model.safetensors holds `image_prefix.*` keys (the release config is then implied)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..errors import ConfigError

MODEL_TYPE = "moshivis"


@dataclass(frozen=True)
class SiglipConfig:
    """The release: PaliGemma2-448's SigLIP (so400m), 27 layers, 1152 wide, 32x32 patches of 14."""

    hidden_size: int = 1152
    intermediate_size: int = 4304
    num_hidden_layers: int = 27
    num_attention_heads: int = 16
    num_channels: int = 3
    image_size: int = 448
    patch_size: int = 14
    layer_norm_eps: float = 1e-6
    hidden_act: str = "gelu_pytorch_tanh"

    def __post_init__(self):
        problems = []
        if self.image_size % self.patch_size:
            problems.append(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.hidden_size % self.num_attention_heads:
            problems.append(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads")
        if self.hidden_act != "gelu_pytorch_tanh":
            problems.append(f"hidden_act {self.hidden_act!r} (only gelu_pytorch_tanh is supported)")
        if problems:
            raise ConfigError("vision_config: " + "; ".join(problems))

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @classmethod
    def from_dict(cls, data: dict) -> "SiglipConfig":
        names = {f.name for f in fields(cls)}
        # HF metadata keys that do not change the tower
        ignored = {"model_type", "projection_dim", "num_image_tokens", "num_positions", "torch_dtype",
                   "vision_use_head", "attention_dropout"}
        unknown = sorted(set(data) - names - ignored)
        if unknown:
            raise ConfigError(f"vision_config: unknown keys {unknown}")
        if data.get("vision_use_head"):
            raise ConfigError("vision_config: vision_use_head=true is not supported")
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict:
        return {"model_type": "siglip_vision_model", **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class VisConfig:
    """The image adapter: projection to the LM width, its norm, the per-layer gates, and from
    which generation step the image is attended to (Kyutai's clients: 16)."""

    vision: SiglipConfig = field(default_factory=SiglipConfig)
    xa_start: int = 16
    gate_hidden_factor: float = 0.125
    norm_xa_eps: float = 1e-5

    @classmethod
    def from_dict(cls, data: dict) -> "VisConfig":
        """From a config.json: `vision_config` and the KyuteyeConfig keys; the supported values only."""
        fixed = {"xa_shared": True, "xa_gating": "sigmoid", "xa_conditional_gating": True,
                 "xa_gate_shared": False, "norm_xa": "rms_norm", "num_extra_tokens": 0,
                 "num_crossattended_tokens": -1, "xa_dim": None, "xa_layers": []}
        problems = [f"{k}={data[k]!r} (only {v!r} is supported)" for k, v in fixed.items()
                    if k in data and data[k] != v]
        if problems:
            raise ConfigError("MoshiVis config: " + "; ".join(problems))
        start = data.get("xa_start", 16)
        if not isinstance(start, int) or start < 0:
            start = 16  # the release yaml's "start": Kyutai's clients send 16
        return cls(vision=SiglipConfig.from_dict(data.get("vision_config", {})), xa_start=start)

    def to_dict(self) -> dict:
        return {"vision_config": self.vision.to_dict(), "xa_start": self.xa_start, "xa_shared": True,
                "xa_gating": "sigmoid", "xa_conditional_gating": True, "norm_xa": "rms_norm"}
