"""Random Kyutai-format checkpoints for the quantization tests: a tiny LM made by Kyutai's PyTorch
`moshi` and saved with the RELEASE key names, a tiny Mimi, a tiny sentencepiece tokenizer."""

from __future__ import annotations

import copy
import json
import math
import struct
from pathlib import Path

import numpy as np
import torch
from moshi.models import loaders
from safetensors.torch import save_file

from moshi_mlx.lm.config import LmConfig

MIMI_NAME = "tokenizer-e351c8d8-checkpoint125.safetensors"
TOKENIZER_NAME = "tokenizer_spm_32k_3.model"

# Every Linear/Embedding input size divides by 32 and 64: all of them quantize at q4/g32 and q8/g64.
TINY = dict(dim=256, num_heads=4, num_layers=2, context=32, text_card=96, card=40, depformer_dim=256,
            depformer_num_heads=4, depformer_num_layers=1, depformer_dim_feedforward=int(4.125 * 256))


def tiny_config(**overrides) -> LmConfig:
    return LmConfig.from_dict({**TINY, **overrides})


def release_name(key: str) -> tuple[str, int | None]:
    """In-memory name -> (release name, index stacked on dim 0, or None when not stacked)."""
    for kind, release in ((".in_projs.", "in_proj_weight"), (".out_projs.", "out_proj.weight")):
        if kind in key:
            prefix, rest = key.split(kind)
            return f"{prefix}.{release}", int(rest.split(".")[0])
    return key, None


def release_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """state_dict() with the release names: the per-step `in_projs.{i}.weight` / `out_projs.{i}.weight`
    of an attention stacked on dim 0 into `in_proj_weight` / `out_proj.weight`."""
    out: dict[str, torch.Tensor] = {}
    stacks: dict[str, list[tuple[int, torch.Tensor]]] = {}
    for k, v in model.state_dict().items():
        name, index = release_name(k)
        if index is None:
            out[name] = v.detach().clone().contiguous()
        else:
            stacks.setdefault(name, []).append((index, v.detach()))
    for name, parts in stacks.items():
        out[name] = torch.cat([v for _, v in sorted(parts, key=lambda p: p[0])], dim=0).contiguous()
    return out


def make_lm(config: LmConfig, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return loaders.get_moshi_lm(None, lm_kwargs=config.pytorch_kwargs(), device="cpu", dtype=torch.float32)


def write_mimi(path: Path, seed: int = 0) -> None:
    cfg = copy.deepcopy(loaders._mimi_config)
    cfg["seanet"].update(n_filters=4, dimension=32)
    cfg["quantizer"].update(dimension=16, n_q=8, bins=40, input_dimension=32, output_dimension=32)
    cfg["transformer"].update(d_model=32, num_heads=2, num_layers=1, dim_feedforward=64,
                              input_dimension=32, output_dimensions=[32])
    torch.manual_seed(seed)
    mimi = loaders.get_mimi(None, mimi_config=cfg, device="cpu")
    save_file(release_state_dict(mimi), str(path))


def write_tokenizer(path: Path) -> None:
    import io

    import sentencepiece as spm

    words = ["hello", "world", "moshi", "speech", "model", "quantize", "talk", "listen", "voice", "mac"]
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(words, size=8)) for _ in range(200)]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, vocab_size=40,
                                   model_type="unigram", hard_vocab_limit=False, minloglevel=2)
    Path(path).write_bytes(buf.getvalue())


def write_release_folder(folder: Path, config: LmConfig, *, dtype=torch.bfloat16, seed: int = 0,
                         with_config: bool = True, lm_name: str = "model.safetensors") -> dict:
    """A folder like kyutai/moshiko-pytorch-bf16 (plus config.json): returns the release state dict
    (as saved, in `dtype`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.to(dtype).contiguous() for k, v in release_state_dict(make_lm(config, seed)).items()}
    if lm_name.endswith(".safetensors"):
        save_file(state, str(folder / lm_name))
    else:
        torch.save(state, folder / lm_name)
    write_mimi(folder / MIMI_NAME, seed)
    write_tokenizer(folder / TOKENIZER_NAME)
    if with_config:
        (folder / "config.json").write_text(json.dumps(config.pytorch_kwargs()))
    return state


def meta_release_shapes(config: LmConfig) -> dict[str, tuple[int, ...]]:
    """Release names and shapes of a config, without allocating (PyTorch meta device)."""
    model = loaders.get_moshi_lm(None, lm_kwargs=config.pytorch_kwargs(), device="meta",
                                 dtype=torch.bfloat16)
    shapes: dict[str, tuple[int, ...]] = {}
    for k, v in model.state_dict().items():
        name, index = release_name(k)
        prev = shapes.get(name) if index is not None else None
        shapes[name] = (v.shape[0] + prev[0], *v.shape[1:]) if prev else tuple(v.shape)
    return shapes


def write_random_bf16_safetensors(path: Path, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> int:
    """A large random bf16 safetensors file written tensor by tensor (never all in memory). One
    random block is drawn once and written at shifting offsets: fast, and still not constant."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = math.prod(shape) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    block = np.random.default_rng(seed).standard_normal(1 << 22, dtype=np.float32) * 0.02
    block = np.tile((block.view(np.uint32) >> 16).astype(np.uint16), 2)  # bf16 bits, twice
    shift = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for shape in shapes.values():
            count = math.prod(shape)
            for start in range(0, count, 1 << 22):
                n = min(1 << 22, count - start)
                shift = (shift + 7919) % (1 << 22)
                f.write(block[shift:shift + n].tobytes())
    return 8 + len(raw) + offset
