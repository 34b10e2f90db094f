"""Kyutai's PyTorch LM (the oracle) on random weights, saved with the release key names."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from moshi_mlx.lm import LmConfig


def pytorch_lm(config: LmConfig, seed: int = 0):
    from moshi.models import loaders

    torch.manual_seed(seed)
    model = loaders.get_moshi_lm(None, lm_kwargs=config.pytorch_kwargs(), device="cpu",
                                 dtype=torch.float32)
    with torch.no_grad():  # norms start at 1 (and 0): make them random so that a mix-up shows
        for name, p in model.named_parameters():
            if name.endswith(".alpha") or re.search(r"norm\w*(\.\d+)?\.weight$", name):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif re.search(r"norm\w*(\.\d+)?\.bias$", name):
                p.copy_(0.2 * torch.randn_like(p))
    return model.eval()


def release_state_dict(model) -> dict[str, torch.Tensor]:
    """In-memory names -> release names: per-step attention projections stacked into one
    `in_proj_weight` / `out_proj.weight` (what Kyutai's checkpoint files hold)."""
    out: dict[str, torch.Tensor] = {}
    stacks: dict[str, list[tuple[int, torch.Tensor]]] = {}
    for name, value in model.state_dict().items():
        m = re.fullmatch(r"(.*\.(?:self_attn|cross_attention))\.(in|out)_projs\.(\d+)\.weight", name)
        if m:
            key = f"{m.group(1)}.in_proj_weight" if m.group(2) == "in" else f"{m.group(1)}.out_proj.weight"
            stacks.setdefault(key, []).append((int(m.group(3)), value))
        else:
            out[name] = value
    for key, parts in stacks.items():
        out[key] = torch.cat([v for _, v in sorted(parts, key=lambda p: p[0])], dim=0)
    return {k: v.contiguous() for k, v in out.items()}


def save_release(model, path: Path, dtype=torch.float32) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.to(dtype) for k, v in release_state_dict(model).items()}, str(path))
    return path


def same_frame(expected, got, call: int) -> bool:
    """Assert that our StepOutput `got` equals Kyutai's LMGen output tensor `expected` (None while
    the delays fill); True when a frame came out."""
    import numpy as np

    assert (expected is None) == (got is None), f"call {call}: None-ness differs"
    if expected is None:
        return False
    expected = expected[0, :, 0].numpy()
    assert got.text_token == expected[0], f"call {call}: text token"
    np.testing.assert_array_equal(got.audio_codes, expected[1:], err_msg=f"call {call}")
    return True
