"""How a Hibiki stream is made: the "description" condition and classifier-free guidance.

Facts from Kyutai's `moshi` 0.2.13 (run_inference.get_condition_tensors, loaders.get_moshi):
- a conditioned Hibiki is conditioned on description = "very_good", summed into every frame;
- with cfg_coef != 1 the batch is doubled with "very_bad" as the negative row (not the dropped
  condition) and logits = null + (cond - null) * cfg_coef, in the text and in every depformer step;
  ours runs both rows inside the one compiled frame (LmGen rows = 2);
- Hibiki-Zero has no conditioner: it runs without conditions and without guidance;
- after loading, text_emb row 2 (EOS) becomes a copy of row 3 (PAD): an EOS sampled before the
  end of the input is then fed back as padding.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..engine.setup import StreamSetup
from ..errors import ConfigError

CONDITION = "description"
CONDITIONED_ON = "very_good"  # Kyutai's value at inference
CFG_NEGATIVE = "very_bad"  # the negative row of classifier-free guidance
TEXT_EOS = 2  # the text stream's end of speech (sentencepiece eos id of Kyutai's tokenizers)


def fix_loaded_lm(lm) -> None:
    """Kyutai's loader fix-up for model_type "hibiki": text_emb row EOS <- row PAD. Works on float
    and on quantized tables alike (each row is quantized on its own: weight, scales, biases)."""
    import mlx.core as mx

    pad, rows = lm.config.existing_text_padding_id, lm.config.text_card + 1
    emb = lm.text_emb
    fixed = {name: mx.concatenate([value[:TEXT_EOS], value[pad:pad + 1], value[TEXT_EOS + 1:]], axis=0)
             for name, value in emb.parameters().items() if value.ndim and value.shape[0] == rows}
    emb.update(fixed)
    mx.eval(list(fixed.values()))


def model_sampling(config: Mapping, **explicit):
    """Sampling defaults from config.json's `lm_gen_config` (what Kyutai's run_inference gives its
    LMGen: temp, temp_text, top_k, top_k_text), else Kyutai's LMGen defaults; explicit values (not
    None: the command line's) win."""
    from ..engine.core import Sampling

    gen = config.get("lm_gen_config") or {}
    if not isinstance(gen, Mapping):
        raise ConfigError("config.json: lm_gen_config must be an object")
    d = Sampling()
    values = {"text_temperature": gen.get("temp_text", d.text_temperature),
              "text_top_k": gen.get("top_k_text", d.text_top_k),
              "audio_temperature": gen.get("temp", d.audio_temperature),
              "audio_top_k": gen.get("top_k", d.audio_top_k)}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config.json: lm_gen_config has a non-numeric value for {key}: {value!r}")
    values.update({k: v for k, v in explicit.items() if v is not None})
    return Sampling(**values)


def check_guidance(conditioners: Mapping | None, cfg_coef: float, name: str) -> bool:
    """Whether a model with these conditioners (config.json) is conditioned; ConfigError naming
    the model when it has other conditioners, or when guidance is asked of an unconditioned one."""
    names = set(conditioners or {})
    if names - {CONDITION}:
        raise ConfigError(f"{name}: a translation model conditioned on {sorted(names)}; only "
                          f"{CONDITION!r} is known for Hibiki")
    if cfg_coef != 1 and CONDITION not in names:
        raise ConfigError(f"{name}: classifier-free guidance (cfg_coef {cfg_coef:g}) needs the "
                          f"{CONDITION!r} condition, which this model does not have (Hibiki-Zero is "
                          "not conditioned): use cfg_coef 1")
    return CONDITION in names


class HibikiSetup(StreamSetup):
    """Options: `cfg_coef` (default 1: no guidance; Kyutai suggests ~3 for a voice closer to the
    speaker's)."""

    accepted_options = ("cfg_coef",)

    def __init__(self, model, sampling, options: Mapping[str, Any] | None = None):
        super().__init__(model, sampling, options)
        name = model.files.name
        cfg = self.options.get("cfg_coef", 1.0)
        if isinstance(cfg, bool) or not isinstance(cfg, (int, float)) or not 0 <= cfg < float("inf"):
            raise ConfigError(f"{name}: cfg_coef must be a number >= 0, got {cfg!r}")
        self.cfg_coef = float(cfg)
        self.conditioned = check_guidance(model.lm.config.conditioners, self.cfg_coef, name)

    def condition_rows(self) -> list[dict[str, str]]:
        """One row ("very_good"), two with guidance (then "very_bad"); none when unconditioned."""
        if not self.conditioned:
            return []
        return [{CONDITION: CONDITIONED_ON}] + ([{CONDITION: CFG_NEGATIVE}] if self.cfg_coef != 1 else [])

    def generator_kwargs(self) -> dict:
        from ..device import activation_dtype
        from ..lm.conditioners import make_conditions

        kwargs: dict[str, Any] = {"cfg_coef": self.cfg_coef}
        if self.conditioned:
            try:
                kwargs["conditions"] = make_conditions(self.model.lm, self.condition_rows(),
                                                       activation_dtype())
            except ConfigError as e:
                raise ConfigError(f"{self.model.files.name}: {e}") from None
        return kwargs
