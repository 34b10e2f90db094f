"""Tiny Hibiki models in Kyutai's PyTorch release form (config.json with model_type "hibiki", LM
weights with the release names, a tiny Mimi, a sentencepiece tokenizer whose EOS is id 2), built
from Kyutai's own PyTorch classes, with the end of speech made observable.

Random weights never say EOS on cue, and Kyutai's runner loops until they do. `route_eos` edits
the random weights so that the text stream says EOS exactly when the end-of-input code (card) is
in the first user codebook: coordinate 0 of the temporal stream is cleared everywhere (no table
or layer writes to it), the end-of-input row of that codebook's table writes a large value there,
and only the EOS row of the text head reads it. With `early=True` the initial tokens (which hold
the same code) also say EOS, so the model says EOS before the input ends: Kyutai then warns and
goes on, and so must we."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import torch

from moshi_mlx.lm import LmConfig
from moshi_mlx.mimi import MimiConfig
from tests.lm.layouts import LAYOUTS
from tests.lm.reference import pytorch_lm, save_release
from tests.mimi.reference import reference_mimi, write_release_checkpoint

EOS = 2
LM_FILE, MIMI_FILE, TOKENIZER_FILE = "model.safetensors", "mimi-test.safetensors", "tokenizer-test.model"


def hibiki_config(layout: str, text_card: int | None = None) -> tuple[LmConfig, MimiConfig]:
    """A tiny layout of tests/lm/layouts.py with the tiny Mimi's vocabulary and enough codebooks
    (and the tokenizer's vocabulary: Kyutai's runner prints every text token it emits)."""
    mimi = MimiConfig.tiny()
    config = LAYOUTS[layout].to_dict() | {"card": mimi.codebook_size}
    config = LmConfig.from_dict(config | ({"text_card": text_card} if text_card else {}))
    return config, dataclasses.replace(mimi, n_q=config.mimi_codebooks)


@torch.no_grad()
def route_eos(pt, config: LmConfig, early: bool = False, strength: float = 100.0, gain: float = 3.0):
    for name, p in pt.named_parameters():
        if name.startswith("depformer"):
            continue
        if re.fullmatch(r"(text_emb|emb\.\d+)\.weight", name):
            p[:, 0] = 0
        elif re.search(r"(out_projs\.\d+|linear_out|output_proj)\.weight$", name):
            p[0, :] = 0
    pt.emb[config.dep_q].weight[config.card, 0] = strength
    if not early:  # the first call's input is all initial tokens: cancel it there
        pt.text_emb.weight[config.text_card, 0] = -strength
    head = pt.text_linear.weight
    head[:, 0] = 0
    head[EOS, :] = 0
    head[EOS, 0] = gain
    pt.out_norm.alpha[..., 0] = 1.0


def write_hibiki_folder(folder: Path, layout: str, *, route: str = "eos", seed: int = 1):
    """The folder, Kyutai's PyTorch LM as its loader gives it (text_emb row 2 <- row 3) and the
    reference Mimi. `route`: "eos" (EOS after the end of input), "early" (also at the start),
    "never" (the model never says EOS)."""
    from moshi_mlx.demo import _train_tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pieces = _train_tokenizer(folder / TOKENIZER_FILE, LAYOUTS[layout].text_card)
    config, mimi_cfg = hibiki_config(layout, pieces)
    pt = pytorch_lm(config, seed=seed)
    route_eos(pt, config, early=route == "early")
    if route == "never":
        with torch.no_grad():
            pt.emb[config.dep_q].weight[config.card, 0] = 0
    save_release(pt, folder / LM_FILE)
    with torch.no_grad():  # what Kyutai's CheckpointInfo.get_moshi does for model_type hibiki
        pt.text_emb.weight[EOS] = pt.text_emb.weight[3]
    write_release_checkpoint(mimi_cfg, folder / MIMI_FILE, seed=seed)
    data = config.to_dict() | {"model_type": "hibiki", "moshi_name": LM_FILE, "mimi_name": MIMI_FILE,
                               "tokenizer_name": TOKENIZER_FILE, "mimi_config": mimi_cfg.to_dict()}
    (folder / "config.json").write_text(json.dumps(data))
    return folder, pt, reference_mimi(mimi_cfg, folder / MIMI_FILE, mimi_cfg.n_q)
