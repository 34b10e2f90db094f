"""How a model kind's generator is made and started: the seam between the shared frame loop and
the per-kind modules.

`FrameEngine` (encode -> LM -> decode per frame) asks the model's kind for a `StreamSetup`: it
builds the `LmGen` (samplers, conditions, classifier-free guidance, generated codebooks) and starts
each new stream after a reset (a persona's prompt, ...). Moshi needs nothing beyond the default.
A kind names its setup class in its record (moshi_mlx/kinds/<kind>.py: `setup`, imported only when
used)."""

from __future__ import annotations

from typing import Any, Mapping

from ..kinds import KINDS, import_object


class StreamSetup:
    """The default (Moshi): Kyutai's samplers from the Sampling options, no conditions.
    `options`: the kind's own options (e.g. {"cfg_coef": 3.0}); unknown ones are an error."""

    accepted_options: tuple[str, ...] = ()
    changeable_options: tuple[str, ...] = ()  # those `change` takes during a stream

    def __init__(self, model, sampling, options: Mapping[str, Any] | None = None):
        from ..errors import ConfigError

        self.model = model
        self.sampling = sampling
        self.options = dict(options or {})
        unknown = set(self.options) - set(self.accepted_options)
        if unknown:
            raise ConfigError(f"{model.files.name}: options {sorted(unknown)} do not apply to a "
                              f"{model.kind} model")

    @classmethod
    def codec_codebooks(cls, config) -> int:
        """How many codebooks the model's Mimi must encode and decode (Kyutai's loader rule)."""
        return config.mimi_codebooks

    def generator_kwargs(self) -> dict:
        """Extra LmGen keyword arguments (conditions, cfg_coef, codebooks, ...)."""
        return {}

    def make_gen(self):
        from ..lm import LmGen, make_sampler

        s = self.sampling
        return LmGen(self.model.lm,
                     text_sampler=make_sampler(s.text_temperature, top_k=s.text_top_k),
                     audio_sampler=make_sampler(s.audio_temperature, top_k=s.audio_top_k),
                     seed=s.seed, kv_bits=s.kv_bits, **self.generator_kwargs())

    def start(self, gen) -> None:
        """Called after each reset, before the first frame (prompts); default: nothing."""

    def check_changeable(self, options: Mapping[str, Any]) -> None:
        from ..errors import ConfigError

        fixed = sorted(set(options) - set(self.changeable_options))
        if fixed:
            raise ConfigError(f"{self.model.files.name}: options {fixed} cannot change during a "
                              f"conversation of a {self.model.kind} model")

    def change(self, gen, options: Mapping[str, Any]) -> None:
        """Apply kind options to the running stream `gen` from its next frame on (on the MLX
        worker, between two frames); the kinds that can say which (`changeable_options`)."""
        self.check_changeable(options)


def setup_class(kind: str) -> type[StreamSetup]:
    record = KINDS.get(kind)
    return import_object(record.setup) if record is not None and record.setup else StreamSetup


def make_setup(model, sampling, options: Mapping[str, Any] | None = None) -> StreamSetup:
    return setup_class(model.kind)(model, sampling, options)
