"""Tiny random STT model folders in the three forms Kyutai publishes, for both STT shapes.

Shapes (tiny widths, the real layouts and config.json keys, ../shared/MODEL-CONFIGS.md 3 and 4):
- "1b": stt-1b-en_fr: delay 0.5 s, no silence prefix, 4 extra heads of 6 (end of turn);
- "2.6b": stt-2.6b-en: delay 2.5 s, 1 s silence prefix, no extra heads.
Forms:
- "pytorch": Kyutai's PyTorch repo: config.json + model.safetensors with PyTorch names (the 1B's
  lacks the extra heads, as the real kyutai/stt-1b-en_fr does);
- "candle": the -candle repo: PyTorch names, with `extra_heads.*` and their config keys (1B);
- "mlx": the -mlx repo: Kyutai's MLX names (written here from the PyTorch names by Kyutai's own
  renaming rules, not by our loader's), heads included for the 1B to cover their names too.
Each folder also holds a tiny Mimi with 32 codebooks in the release format (PyTorch names, named like
the real `mimi-pytorch-e351c8d8@125.safetensors`), described by a "mimi_config" entry (ours: the
real repos use the release Mimi), and a tiny sentencepiece tokenizer with Moshi's special ids.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import torch

from moshi_mlx.lm import LmConfig
from moshi_mlx.mimi import MimiConfig

MIMI_NAME = "mimi-pytorch-e351c8d8@125.safetensors"
MIMI = dataclasses.replace(MimiConfig.tiny(), n_q=32)
TEXT_CARD = 96

SHAPES = {
    "1b": dict(lm=dict(num_heads=4, num_layers=2, context=16, extra_heads_num_heads=4, extra_heads_dim=6),
               stt={"audio_delay_seconds": 0.5, "audio_silence_prefix_seconds": 0.0},
               tokenizer="tokenizer_en_fr_audio_8000.model", sig="1bf00000"),
    "2.6b": dict(lm=dict(num_heads=8, num_layers=3, context=8),
                 stt={"audio_delay_seconds": 2.5, "audio_silence_prefix_seconds": 1.0},
                 tokenizer="tokenizer_en_audio_4000.model", sig="dabcc802"),
}
FORMS = ("pytorch", "candle", "mlx")
LM_GEN = {"temp": 0.0, "temp_text": 0.0, "top_k": 250, "top_k_text": 50}


def lm_config(shape: str, heads: bool = True) -> LmConfig:
    lm = dict(SHAPES[shape]["lm"])
    if not heads:
        lm.pop("extra_heads_num_heads", None), lm.pop("extra_heads_dim", None)
    return LmConfig.tiny(n_q=32, dep_q=0, delays=(0,) * 33, max_period=100_000.0, card=MIMI.codebook_size,
                         text_card=TEXT_CARD, **lm)


def kyutai_config(shape: str, heads: bool) -> dict:
    """config.json with the keys (and key order) of Kyutai's STT repos, tiny values."""
    c = lm_config(shape, heads)
    out = {"card": c.card, "n_q": 32, "dep_q": 0, "delays": [0] * 33, "dim": c.dim, "text_card": c.text_card,
           "existing_text_padding_id": 3, "num_heads": c.num_heads, "num_layers": c.num_layers,
           "hidden_scale": 4.125, "causal": True, "layer_scale": None, "context": c.context,
           "max_period": 100000.0, "gating": "silu", "norm": "rms_norm_f32", "positional_embedding": "rope",
           "depformer_dim": 32, "depformer_num_heads": 2, "depformer_num_layers": 2,
           "depformer_dim_feedforward": None, "depformer_multi_linear": True, "depformer_pos_emb": "none",
           "depformer_weights_per_step": True, "conditioners": {}, "cross_attention": False,
           "model_id": {"sig": SHAPES[shape]["sig"], "epoch": 50}, "lm_gen_config": dict(LM_GEN),
           "stt_config": dict(SHAPES[shape]["stt"]), "model_type": "stt", "mimi_name": MIMI_NAME,
           "tokenizer_name": SHAPES[shape]["tokenizer"]}
    if heads and c.extra_heads_num_heads:
        out.update(extra_heads_num_heads=c.extra_heads_num_heads, extra_heads_dim=c.extra_heads_dim)
    out["mimi_config"] = MIMI.to_dict()
    return out


def kyutai_mlx_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Kyutai's MLX names for an STT state dict (moshi_mlx 0.3.0 `load_pytorch_weights` rules):
    norms' alpha [1, 1, D] -> weight [D], emb.i -> audio_embs.i, in_proj_weight -> in_proj.weight."""
    out = {}
    for name, value in state.items():
        if name.endswith(".alpha"):
            name, value = name[:-len(".alpha")] + ".weight", value.reshape(-1)
        if name.startswith("emb."):
            name = "audio_embs." + name[len("emb."):]
        out[name.replace(".in_proj_weight", ".in_proj.weight")] = value.contiguous()
    return out


def shared_files(root: Path, seed: int = 3) -> dict[str, Path]:
    """The tiny Mimi and tokenizer, written once."""
    from moshi_mlx.demo import _train_tokenizer
    from tests.mimi.reference import write_release_checkpoint

    root.mkdir(parents=True, exist_ok=True)
    mimi = root / MIMI_NAME
    write_release_checkpoint(MIMI, mimi, seed=seed)
    tokenizer = root / "tokenizer.model"
    assert _train_tokenizer(tokenizer, TEXT_CARD) <= TEXT_CARD
    return {"mimi": mimi, "tokenizer": tokenizer}


def write_folder(folder: Path, shape: str, form: str, pt_model, shared: dict[str, Path]) -> Path:
    """One model folder of `shape` in `form` from the PyTorch reference model `pt_model`."""
    from safetensors.torch import save_file

    from tests.lm.reference import release_state_dict

    heads = form != "pytorch" and bool(SHAPES[shape]["lm"].get("extra_heads_num_heads"))
    folder.mkdir(parents=True)
    state = {k: v.float() for k, v in release_state_dict(pt_model).items()
             if heads or not k.startswith("extra_heads.")}
    if form == "mlx":
        state = kyutai_mlx_names(state)
    save_file(state, str(folder / "model.safetensors"))
    shutil.copyfile(shared["mimi"], folder / MIMI_NAME)
    shutil.copyfile(shared["tokenizer"], folder / SHAPES[shape]["tokenizer"])
    (folder / "config.json").write_text(json.dumps(kyutai_config(shape, heads), indent=2) + "\n")
    return folder
