"""Kyutai's PyTorch Mimi as the test oracle: random weights written in the release checkpoint format
(names `in_proj_weight` / `out_proj.weight`, buffers `embedding_sum` / `cluster_usage`), then loaded
into the reference through its own load hooks."""

from __future__ import annotations

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from moshi_mlx.mimi import MimiConfig

FRAME = 1920


def release_name(key: str) -> str:
    return key.replace("in_projs.0.weight", "in_proj_weight").replace("out_projs.0.weight", "out_proj.weight")


def random_release_weights(cfg: MimiConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights (scaled so activations stay O(1)) with the release file's names and layouts."""
    from moshi.models import loaders

    model = loaders.get_mimi(None, mimi_config=cfg.to_reference_dict(), device="cpu")
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, v in model.state_dict().items():
        if key.endswith("cluster_usage"):
            v = torch.rand(v.shape, generator=g) * 2
            # a few usages at or below the 1e-5 clamp
            v[:3] = torch.tensor([0.0, 1e-7, 5e-6])
        elif key.endswith("_initialized"):
            v = torch.ones_like(v)
        elif v.ndim > 1:
            fan_in = int(np.prod(v.shape[1:]))
            v = torch.randn(v.shape, generator=g) / np.sqrt(fan_in)
            if key.startswith("upsample"):
                v = v.abs()  # depthwise: keep the signal's sign
        elif key.endswith(".scale"):
            v = torch.rand(v.shape, generator=g) * 0.5
        else:
            v = torch.randn(v.shape, generator=g) * 0.1
        out[release_name(key)] = v.contiguous()
    return out


def write_release_checkpoint(cfg: MimiConfig, path, seed: int = 0) -> None:
    save_file(random_release_weights(cfg, seed), str(path))


def reference_mimi(cfg: MimiConfig, path, num_codebooks: int = 8):
    """The PyTorch MimiModel with the file's weights (strict load through its hooks)."""
    from moshi.models import loaders

    torch.set_num_threads(2)
    model = loaders.get_mimi(None, mimi_config=cfg.to_reference_dict(), device="cpu",
                             num_codebooks=num_codebooks)
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval()


@torch.no_grad()
def ref_encode(model, pcm: np.ndarray) -> np.ndarray:
    return model.encode(torch.from_numpy(pcm)).numpy().astype(np.int32)


@torch.no_grad()
def ref_decode(model, codes: np.ndarray) -> np.ndarray:
    return model.decode(torch.from_numpy(codes.astype(np.int64))).numpy()


@torch.no_grad()
def ref_stream(model, pcm: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference streaming: encode pcm frame by frame, and decode `codes` frame by frame."""
    B, frames = pcm.shape[0], pcm.shape[-1] // FRAME
    with model.streaming(B):
        enc = [model.encode(torch.from_numpy(pcm[..., i * FRAME:(i + 1) * FRAME])) for i in range(frames)]
    with model.streaming(codes.shape[0]):
        dec = [model.decode(torch.from_numpy(codes[..., i:i + 1].astype(np.int64)))
               for i in range(codes.shape[-1])]
    return torch.cat(enc, -1).numpy().astype(np.int32), torch.cat(dec, -1).numpy()


def make_signal(batch: int, frames: int, seed: int = 0) -> np.ndarray:
    """Noise plus a few tones, [B, 1, frames * 1920] float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames * FRAME) / 24000
    tones = sum(0.2 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in rng.uniform(80, 3000, 4))
    return (tones + 0.1 * rng.standard_normal((batch, 1, t.size))).astype(np.float32)
