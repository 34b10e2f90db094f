"""How a text-to-speech stream's generator is made (the TTS kind's StreamSetup, see engine/setup.py):
the conditions (speakers, cfg, control), classifier-free guidance, the generated codebooks and the
synthesizer's hooks into the generator.

Facts from Kyutai's `moshi` (models/tts.py, TTSModel): CFG-distilled models take the cfg value as a
condition and run one row; the others run real CFG with a second row whose conditions are the null
ones and whose text (and voice prefix) is masked (`null_tokens`); the text stream is not guided
(`cfg_text=False`): the word state machine (`text_hook`) decides the text token.

Options (all given by the Synthesizer, tts/synth.py): `voices` (resolved Voice objects), `cfg`,
`codebooks` (None: the model's default), `text_hook(sampled, call) -> token` and
`null_tokens(inputs, call) -> inputs` (used only with real CFG)."""

from __future__ import annotations

from typing import Any, Mapping

from ..engine.setup import StreamSetup
from ..errors import ConfigError


class TtsSetup(StreamSetup):
    accepted_options = ("voices", "cfg", "codebooks", "text_hook", "null_tokens")

    def __init__(self, model, sampling, options: Mapping[str, Any] | None = None):
        from .info import TtsInfo
        from .voices import check_voices

        super().__init__(model, sampling, options)
        self.info = info = TtsInfo.from_model(model)
        self.voices = list(self.options.get("voices") or [])
        check_voices(info, self.voices, model.files.name)
        codebooks = self.options.get("codebooks")
        self.codebooks = info.default_codebooks if codebooks is None else codebooks
        if not 1 <= self.codebooks <= info.dep_q:
            raise ConfigError(f"codebooks {self.codebooks}: {model.files.name} generates 1 to {info.dep_q}")
        self.cfg = float(self.options.get("cfg", 1.0))
        # CFG-distilled models take the cfg value as a condition; the others run real CFG (a batch
        # of two rows: the null row without text, voice prefix and conditions).
        self.real_cfg = not info.cfg_values and self.cfg != 1.0

    def generator_kwargs(self) -> dict:
        from ..device import activation_dtype
        from ..lm.conditioners import make_conditions, null_row
        from .voices import condition_values

        dtype = activation_dtype()
        config = self.model.lm.config
        conditions = None
        if config.is_conditioned:
            row = condition_values(self.info, self.voices, self.cfg, config.conditioners)
            conditions = make_conditions(self.model.lm, [row, null_row(row)] if self.real_cfg else [row],
                                         dtype)
        return {"dtype": dtype, "codebooks": self.codebooks, "conditions": conditions,
                "cfg_coef": self.cfg if self.real_cfg else 1.0,
                "null_tokens": self.options.get("null_tokens") if self.real_cfg else None,
                "text_hook": self.options.get("text_hook"), "cfg_text": False}
