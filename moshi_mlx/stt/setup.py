"""How a speech-to-text stream's generator is made (the STT kind's StreamSetup, see engine/setup.py):
only the text is sampled, with the sampling the Transcriber resolved from the model's
lm_gen_config; the audio streams are the input, never generated (a greedy audio sampler that
Kyutai's LMGen also holds, never used: dep_q is 0)."""

from __future__ import annotations

from ..engine.setup import StreamSetup


class SttSetup(StreamSetup):
    accepted_options = ("dtype",)  # the activations' dtype (None: the device's default)

    def make_gen(self):
        from ..lm import LmGen, make_sampler

        s = self.sampling
        return LmGen(self.model.lm, make_sampler(s.text_temperature, top_k=s.text_top_k), make_sampler(0.0),
                     seed=s.seed, dtype=self.options.get("dtype"), kv_bits=s.kv_bits)
