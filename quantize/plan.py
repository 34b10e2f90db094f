"""Which tensors get quantized, at what precision, and how that is recorded in config.json.

Like Kyutai's MLX releases, every Linear and every Embedding is quantized (in these checkpoints,
exactly the 2-D `*.weight` tensors) and norms stay in the float dtype. The user may keep chosen
parts at a higher precision: `keep={"embeddings": 8, "heads": None}` (None = unquantized), or a
list of parts all kept at 8 bits; the first rule matching a module wins. A part is a name from PARTS or a glob over module paths
(`transformer.layers.0.*`). The record follows mlx-lm: global bits/group_size/mode plus one entry
per module that differs, `{"bits": 8, "group_size": 64}` or `false` (not quantized).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from moshi_mlx.errors import ConfigError
from moshi_mlx.lm.weights import UNQUANTIZED_PREFIXES

# part name -> globs over Kyutai MLX module paths
PARTS: dict[str, tuple[str, ...]] = {
    "embeddings": ("text_emb", "audio_embs.*", "depformer.slices.*.emb"),
    "heads": ("text_linear", "depformer.slices.*.linear_out"),
    "depformer": ("depformer.*",),
    "transformer": ("transformer.*",),
    "attention": ("*.self_attn.*",),
    "feedforward": ("*.gating.*",),
}
SUPPORTED_BITS = (2, 3, 4, 5, 6, 8)
DEFAULT_GROUP = {4: 32, 8: 64}  # Kyutai's MLX releases: q4 = group 32, q8 = group 64


@dataclass(frozen=True)
class Precision:
    bits: int
    group_size: int

    def as_dict(self) -> dict:
        return {"bits": self.bits, "group_size": self.group_size}


@dataclass
class QuantPlan:
    """The precision of every quantizable module: `default`, or the first matching keep rule.
    Planning records the modules that differ from the default (`overrides`) and which keep rules
    matched anything (`matched`)."""

    default: Precision | None  # None: nothing is quantized
    keep: tuple[tuple[str, Precision | None], ...] = ()  # (part or glob, precision)
    mode: str = "affine"
    overrides: dict = field(default_factory=dict)
    matched: set = field(default_factory=set)

    def precision(self, name: str, shape: tuple[int, ...]) -> Precision | None:
        """The precision of tensor `name` (Kyutai MLX name) or None when it stays float."""
        if self.default is None or len(shape) != 2 or not name.endswith(".weight"):
            return None
        module = name[: -len(".weight")]
        if module.startswith(UNQUANTIZED_PREFIXES):
            return None
        chosen = self.default
        for pattern, precision in self.keep:
            if any(fnmatchcase(module, g) for g in PARTS.get(pattern, (pattern,))):
                chosen = precision
                self.matched.add(pattern)
                break
        if chosen is not None and shape[-1] % chosen.group_size:
            chosen = None  # the input size does not split into groups: keep it float
        if chosen != self.default:
            self.overrides[module] = chosen.as_dict() if chosen else False
        return chosen

    def config_entry(self) -> dict | None:
        """The "quantization" entry of config.json (None when nothing is quantized)."""
        if self.default is None:
            return None
        return {"group_size": self.default.group_size, "bits": self.default.bits, "mode": self.mode,
                **dict(sorted(self.overrides.items()))}


def make_plan(bits: int | None, group_size: int | None, keep=None, keep_group_size: int | None = None
              ) -> QuantPlan:
    """bits None = unquantized. `keep`: None, "embeddings,heads", a sequence of parts (kept at 8
    bits), or a mapping part -> bits (None or 16 = unquantized)."""
    if bits is None:
        if group_size is not None:
            raise ConfigError("--group-size needs --bits")
        if keep:
            raise ConfigError("--keep needs --bits: without it nothing is quantized")
        return QuantPlan(default=None)
    default = _precision(bits, group_size)
    rules = []
    for pattern, keep_bits in _keep_items(keep):
        precision = None if keep_bits in (None, 16) else _precision(keep_bits, keep_group_size)
        if precision is not None and precision.bits < bits:
            raise ConfigError(f"--keep {pattern}: {keep_bits} bits is lower than --bits {bits}")
        rules.append((pattern, precision))
    return QuantPlan(default=default, keep=tuple(rules))


def check_keep_matched(plan: QuantPlan) -> None:
    """After planning every tensor: a keep rule that matched no module is a typo, not a no-op."""
    for pattern, _ in plan.keep:
        if pattern not in plan.matched:
            raise ConfigError(f"--keep {pattern!r} matches no quantizable module: use "
                              f"{', '.join(PARTS)} or a glob over module paths such as "
                              "'transformer.layers.0.*'")


def _precision(bits: int, group_size: int | None) -> Precision:
    if bits not in SUPPORTED_BITS:
        raise ConfigError(f"unsupported bits {bits}: use 4 or 8 (MLX also supports {SUPPORTED_BITS})")
    group = group_size or DEFAULT_GROUP.get(bits, 64)
    if group not in (32, 64, 128):
        raise ConfigError(f"unsupported group size {group}: use 32, 64 or 128")
    return Precision(bits, group)


def _keep_items(keep) -> list[tuple[str, int | None]]:
    if not keep:
        return []
    if isinstance(keep, str):
        keep = [p for p in keep.split(",") if p.strip()]
    if isinstance(keep, Mapping):
        return [(str(k).strip(), v) for k, v in keep.items()]
    if isinstance(keep, Sequence):
        return [(str(k).strip(), 8) for k in keep]
    raise ConfigError(f"keep must be a list of parts or a mapping part -> bits, not {type(keep).__name__}")
