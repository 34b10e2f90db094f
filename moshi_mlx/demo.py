"""The `demo` model: a tiny random-weight LM, a tiny random Mimi and a tiny tokenizer, made locally.

Nothing is downloaded, so the whole pipeline (devices, codec, LM, transcript, recording) runs on any
machine in tests and smoke runs. Its weights are random: it produces noise and random words.
The folder is created once, atomically (built beside its final place, then renamed), with a fixed
seed, in our model-folder form (config.json + LM + Mimi in release format + tokenizer).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from .kinds import KINDS, DemoSpec, import_object  # noqa: F401  (DemoSpec: its old home)
from .paths import build_folder_once, default_home  # noqa: F401  (default_home: its old home)

DEMO_VERSION = 1
DEMO_NOTE = "demo model: random weights, it produces noise and random words, not speech"
SEED = 20241
LM_FILE = "model.safetensors"
MIMI_FILE = "tokenizer-demo-mimi.safetensors"
TOKENIZER_FILE = "tokenizer-demo.model"

BASE_CORPUS = (
    "hello how are you today", "i am fine thank you and you", "what would you like to talk about",
    "the weather is nice this morning", "let us talk about music and films",
    "this is a demo model with random weights", "it only makes noise and random words",
    "download a real model to have a conversation", "moshi listens and speaks at the same time",
    "one two three four five six seven eight nine ten", "good morning good evening good night",
    "where do you live and what do you do", "i like reading books about science and history",
)
_CORPUS = BASE_CORPUS  # the old private name

# `--model` spec -> its demo: each kind's record (moshi_mlx/kinds/<kind>.py) holds its own.
DEMOS: dict[str, DemoSpec] = {k.demo: k.demo_spec for k in KINDS.values()}


def is_demo(spec: str) -> bool:
    return spec in DEMOS


def demo_model_dir(cache_dir: str | os.PathLike | None = None, name: str = "demo") -> Path:
    """A demo model's folder, created on first use (random weights, fixed seed)."""
    spec = DEMOS[name]
    root = Path(cache_dir).expanduser() if cache_dir else default_home()
    stem = "moshi-demo" if name == "demo" else f"moshi-{name}"
    final = root / f"{stem}-v{DEMO_VERSION if name == 'demo' else spec.version}"
    if (final / "config.json").is_file():
        from .filecheck import folder_problem

        problem = folder_problem(final)
        if problem is None:
            return final
        print(f"note: the cached demo model {final} is damaged ({problem}): building it again",
              file=sys.stderr)
        shutil.rmtree(final, ignore_errors=True)
    return build_folder_once(final, lambda tmp: _build(tmp, spec))


def train_tokenizer(path: Path, vocab_size: int, extra_corpus: tuple[str, ...] = ()) -> int:
    """A unigram sentencepiece model with Moshi's special ids (0 unk/EPAD, 3 pad/PAD), trained on
    the base corpus plus `extra_corpus`; returns its number of pieces."""
    import io

    import sentencepiece as spm

    sentences = [s for _ in range(20) for s in (*BASE_CORPUS, *extra_corpus)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=3, num_threads=1,
        minloglevel=2)
    path.write_bytes(model.getvalue())
    return spm.SentencePieceProcessor(model_file=str(path)).get_piece_size()


_train_tokenizer = train_tokenizer  # its old private name (tests/hibiki/models.py)


def demo_configs(spec: DemoSpec | None = None):
    """(LmConfig, MimiConfig) of a demo: the LM's audio vocabulary is the codec's codebook size."""
    import dataclasses

    from .lm import LmConfig
    from .mimi import MimiConfig

    spec = spec or DEMOS["demo"]
    mimi = MimiConfig.tiny()
    if spec.mimi_codebooks != mimi.n_q:
        mimi = dataclasses.replace(mimi, n_q=spec.mimi_codebooks)
    lm = LmConfig.tiny(**{"card": mimi.codebook_size, **spec.lm})
    return lm, mimi


def _randomize_mimi(mimi) -> None:
    """A fresh Mimi is all zeros (every frame would encode to code 0 and decode to silence): give
    the demo random weights, scaled by fan-in, so that it makes audible noise."""
    import math

    import mlx.core as mx
    from mlx.utils import tree_map

    def fill(w):
        if not isinstance(w, mx.array) or w.ndim < 2:
            return w
        return mx.random.normal(w.shape) / math.sqrt(math.prod(w.shape[1:]))

    mimi.update(tree_map(fill, mimi.parameters()))


def _build(folder: Path, spec: DemoSpec) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten

    from .lm import Lm
    from .mimi import Mimi
    from .mimi.weights import export_release_format

    lm_cfg, mimi_cfg = demo_configs(spec)
    pieces = train_tokenizer(folder / TOKENIZER_FILE, lm_cfg.text_card)
    if pieces > lm_cfg.text_card:
        raise RuntimeError(f"demo tokenizer has {pieces} pieces, more than the LM's {lm_cfg.text_card}")
    mx.random.seed(SEED)
    lm = Lm(lm_cfg)
    mx.save_safetensors(str(folder / LM_FILE), dict(tree_flatten(lm.parameters())))
    mimi = Mimi(mimi_cfg)
    _randomize_mimi(mimi)
    mx.save_safetensors(str(folder / MIMI_FILE), export_release_format(mimi))
    config = lm_cfg.to_dict()
    config.update(spec.metadata)
    config.update(moshi_name=LM_FILE, mimi_name=MIMI_FILE, tokenizer_name=TOKENIZER_FILE,
                  mimi_config=mimi_cfg.to_dict())
    if spec.extras is not None:
        extras = import_object(spec.extras) if isinstance(spec.extras, str) else spec.extras
        config.update(extras(folder, lm_cfg))
    (folder / "README.txt").write_text(DEMO_NOTE + "\n")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")  # last: marks complete
