"""Tiny TTS models of both released shapes, in Kyutai's PyTorch folder form (config.json with
model_type "tts", tts_config and model_id; LM weights with the release names; Mimi; a
sentencepiece tokenizer trained on the spot), with their PyTorch LM kept for the reference."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import numpy as np
import torch

from moshi_mlx.lm import LmConfig
from moshi_mlx.mimi import MimiConfig
from tests.lm.layouts import TTS_CONDITIONERS
from tests.lm.reference import pytorch_lm, save_release
from tests.mimi.reference import write_release_checkpoint

SIG, EPOCH = "0badcafe", 7
SUFFIX = f".{SIG}@{EPOCH}.safetensors"
TTS_CONFIG = {"audio_delay": 0.32, "second_stream_ahead": 2}  # 4 frames of delay
WORDS = ("hello how are you today i am fine thank you and what would like to talk about the "
         "weather is nice this morning let us music films").split()

# 1.6B shape: 32 codebooks of which some are generated, speakers by cross-attention, cfg and
# control LUTs, a muxed look-ahead text stream, low-rank depformer tables and a weight schedule.
SPEAKERS = dict(
    text_card=256, n_q=8, dep_q=8, card=64, delays=(0, 0) + (2,) * 7, demux_second_stream=True, context=24,
    depformer_low_rank_embeddings=8, conditioners=TTS_CONDITIONERS, cross_attention=True,
    depformer_weights_per_step_schedule=(0, 1, 2, 3, 4, 4, 4, 4),
    fuser={"cross_attention_pos_emb": True, "cross_attention_pos_emb_scale": 1,
           "sum": ["control", "cfg"], "prepend": [], "cross": ["speaker_wavs"]})
# 0.75B shape: no conditioners (the voice is an audio prefix), a 5-token text head.
PREFIX = dict(text_card=256, n_q=8, dep_q=8, card=64, delays=(0, 0) + (2,) * 7, demux_second_stream=True,
              context=48, text_card_out=5, depformer_low_rank_embeddings=8,
              depformer_weights_per_step_schedule=(0, 1, 2, 3, 4, 4, 4, 4))
SHAPES = {"speakers": SPEAKERS, "prefix": PREFIX}


@contextlib.contextmanager
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_tokenizer(path: Path, vocab_size: int = 256) -> int:
    from moshi_mlx.tts.demo import train_tokenizer

    return train_tokenizer(path, vocab_size)


def tts_config(shape: str) -> LmConfig:
    return LmConfig.tiny(**SHAPES[shape], model_type="tts", tts_config=TTS_CONFIG,
                         model_id={"sig": SIG, "epoch": EPOCH})


def lively_text_head(pt, config: LmConfig, steps: int = 24) -> None:
    """Random weights rarely predict "new word" (0) or "pad" (3) among 256 ids (the normed
    temporal output has a large near-constant part, so a row's logit keeps its sign). Calibrate
    both rows on the model's own outputs so that each wins about a third of the frames, on the
    sign of the outputs' main varying direction: then the model, not only the padding limits,
    decides when words start."""
    from moshi.models.lm import LMGen
    from moshi.utils.compile import no_compile

    outs = []
    hook = pt.out_norm.register_forward_hook(lambda m, i, o: outs.append(o.reshape(-1, o.shape[-1])))
    try:
        with torch.no_grad(), no_compile():
            gen = LMGen(pt, use_sampling=False, condition_tensors=_random_conditions(pt, config))
            with gen.streaming(1):
                for _ in range(steps):
                    gen.step(torch.zeros((1, config.n_q - config.dep_q, 1), dtype=torch.long))
    finally:
        hook.remove()
    with torch.no_grad():
        h = torch.cat(outs)
        w = pt.text_linear.weight
        mean = h.mean(0)
        centred = h - mean
        u = torch.linalg.svd(centred, full_matrices=False).Vh[0]
        u = u - (u @ mean) / (mean @ mean) * mean
        z = centred @ u
        u = u / z.std()
        others = torch.cat([w[1:3], w[4:]]) @ h.T
        level = others.max(0).values.median()
        spread = others.max(0).values.std() + 1e-3
        base = level * mean / (mean @ mean)
        w[0] = base + 3 * spread * u
        w[3] = base - 3 * spread * u


def _random_conditions(pt, config: LmConfig):
    if not config.conditioners:
        return None
    from moshi.conditioners import ConditionAttributes, TensorCondition

    dim = config.conditioners["speaker_wavs"]["tensor"]["dim"]
    speakers = TensorCondition.from_tensor(torch.randn(1, 10, dim))
    attributes = ConditionAttributes(text={"control": "ok", "cfg": "2.0"}, tensor={"speaker_wavs": speakers})
    return pt.condition_provider.prepare_and_provide([attributes])


def build_folder(folder: Path, shape: str, seed: int = 3):
    """A model folder of `shape` ("speakers" or "prefix") -> (folder, config, PyTorch LM)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = tts_config(shape)
    # the 0.75B's config.json has `conditioners: {}`: Kyutai's loader builds an empty provider
    pt = pytorch_lm(config, seed=seed, **({} if config.conditioners else {"conditioners": {}}))
    lively_text_head(pt, config)
    save_release(pt, folder / "dsm_tts_tiny.safetensors")
    write_release_checkpoint(MimiConfig.tiny(), folder / "mimi-tiny.safetensors", seed=seed)
    pieces = train_tokenizer(folder / "tokenizer-tiny.model")
    assert pieces <= config.text_card
    data = config.to_dict()
    data.update(moshi_name="dsm_tts_tiny.safetensors", mimi_name="mimi-tiny.safetensors",
                tokenizer_name="tokenizer-tiny.model", mimi_config=MimiConfig.tiny().to_dict())
    (folder / "config.json").write_text(json.dumps(data, indent=2))
    return folder, config, pt


def write_voice(path: Path, dim: int = 12, frames: int = 5, seed: int = 0) -> Path:
    """A voice embedding file as Kyutai's tts-voices hold them: speaker_wavs [1, dim, frames]."""
    from safetensors.numpy import save_file

    emb = np.random.default_rng(seed).standard_normal((1, dim, frames)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"speaker_wavs": emb}, str(path), metadata={"sig": SIG, "epoch": str(EPOCH)})
    return path


def reference_tts(pt, folder: Path, config: LmConfig, n_q: int, cfg_coef: float = 1.0):
    """Kyutai's TTSModel on the PyTorch LM (greedy), built directly: no Hub."""
    import sentencepiece
    from moshi.models import loaders
    from moshi.models.tts import StateMachine, TokenIds, TTSModel

    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(folder / "tokenizer-tiny.model"))
    mimi = loaders.get_mimi(None, mimi_config=MimiConfig.tiny().to_reference_dict(), device="cpu")
    machine = StateMachine(TokenIds(config.text_card + 1), second_stream_ahead=2, max_padding=8,
                           initial_padding=2)
    delay = int(TTS_CONFIG["audio_delay"] * mimi.frame_rate)
    return TTSModel(lm=pt, mimi=mimi, tokenizer=tokenizer, voice_suffix=SUFFIX, voice_repo="none",
                    machine=machine, delay_steps=delay, temp=0.0, n_q=n_q, cfg_coef=cfg_coef)


def sentence(rng, n: int) -> str:
    return " ".join(rng.choice(WORDS, n))


def words_of(text: str) -> list[str]:
    return [w for w in re.split(r"\s+", text) if w]
