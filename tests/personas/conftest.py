import mlx.core as mx
import numpy as np
import pytest

from moshi_mlx.lm import Lm, LmConfig


class Tokens:
    """A stand-in text tokenizer: one token per character (the prompt protocol only needs ids)."""

    def encode(self, text: str) -> list[int]:
        return [4 + ord(c) % 90 for c in text]


# PersonaPlex's layout (16-step depformer, Moshi's 8 + the user's 8), tiny, with the real codec's
# card so that NVIDIA's sine and silence codes are valid tokens.
CONFIG = LmConfig.tiny(dep_q=16, context=128, card=2048)


@pytest.fixture(scope="module")
def lm():
    mx.random.seed(7)
    model = Lm(CONFIG)
    mx.eval(model.parameters())
    return model


@pytest.fixture
def voice_codes():
    return np.random.default_rng(3).integers(0, CONFIG.card, (9, 8))


@pytest.fixture(scope="module")
def persona_home(tmp_path_factory, demo_models):
    """A cache folder holding demo-personaplex (a copy per test module, built once per session)."""
    return demo_models.home(tmp_path_factory.mktemp("persona-home"), "demo-personaplex")


def demo_options(home, **kind):
    """EngineOptions for demo-personaplex in `home` with the persona `kind` (voice=, role=)."""
    from moshi_mlx.engine.conversation import EngineOptions

    return EngineOptions(model="demo-personaplex", cache_dir=str(home), seed=1, aec=False,
                         kind_options=kind or None)
