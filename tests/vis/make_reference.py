"""Generate the MoshiVis reference data ONCE with Kyutai's PyTorch package `kyuteye` (kyuteye_pt),
on random weights of the release structure at tiny widths. Not run by the tests; they read
tests/vis/data/reference.safetensors.

Needs a scratch environment (kyuteye's pins do not install beside this project):
    python -m venv /tmp/kyref  (+ a .pth to this project's .venv site-packages for torch, moshi)
    /tmp/kyref/bin/pip install transformers==4.47.0 "tokenizers<0.22" "huggingface_hub<1" pyyaml
    git archive of kyutai-labs/moshivis (kyuteye_pt/) exported to /tmp/kyuteye_src
    /tmp/kyref/bin/python tests/vis/make_reference.py /tmp/kyuteye_src/kyuteye_pt

torchvision is only used by kyuteye's image transforms, which the reference bypasses (the tests
feed the normalised pixels): it is stubbed. The SigLIP size is hard-coded in kyuteye; the tiny
tower is built with HF's SiglipVisionModel and the same wrapper."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).parent
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else "/tmp/kyuteye_src/kyuteye_pt")
from transformers import SiglipVisionConfig, SiglipVisionModel  # noqa: E402  (before the stub)

tv = types.ModuleType("torchvision")
tv.transforms = types.ModuleType("torchvision.transforms")
tv.transforms.v2 = types.ModuleType("torchvision.transforms.v2")
tv.io = types.ModuleType("torchvision.io")
tv.transforms.v2.Transform = object
sys.modules.update({"torchvision": tv, "torchvision.transforms": tv.transforms,
                    "torchvision.transforms.v2": tv.transforms.v2, "torchvision.io": tv.io})

from kyuteye.config.kyuteye_config import KyuteyeConfig  # noqa: E402
from kyuteye.models import image_projection as ip  # noqa: E402
from kyuteye.models.moshivis import MoshiVisGen  # noqa: E402
from kyuteye.modules.image_encoder import TrimmedFlexiViTWrapper  # noqa: E402

# The tiny structure: our config.json of the test model (LmConfig names -> kyuteye's MoshiConfig)
TINY = json.loads((HERE / "data" / "tiny_config.json").read_text())
VISION = TINY["vision_config"]
LM = {("audio_card" if k == "card" else k): v for k, v in TINY.items()
      if k not in ("model_type", "vision_config", "xa_start")}
STEPS, XA_START = 24, TINY["xa_start"]

torch.manual_seed(1234)


def tiny_encoder(*_args, **_kwargs):
    hf = {k: v for k, v in VISION.items() if k != "model_type"}
    model = SiglipVisionModel(SiglipVisionConfig(**hf, vision_use_head=False)).vision_model
    return TrimmedFlexiViTWrapper(model, interpolate_pos_encoding=True)


ip.load_image_encoder = tiny_encoder
ip.ImageProjection.encoder_out_dim = property(lambda self: VISION["hidden_size"])

cfg = KyuteyeConfig.from_yml(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/kyuteye_src/kyuteye_pt")
                             / "configs" / "moshika-vis.yaml")
cfg.moshi = dataclasses.replace(cfg.moshi, **LM)
gen = MoshiVisGen.from_config(cfg, None, dtype=torch.float32, use_sampling=False)
proj = ip.ImageProjection(cfg, gen.lm_model.llm.dim, load_pretrained_encoder=False).eval()

# Random weights everywhere (norm scales and biases too); the gates' weights larger so that the
# image visibly changes the tokens (Kyutai's sigmoid(x - 4) is ~0.02 at init).
with torch.no_grad():
    for module in (gen.lm_model, proj):
        for name, p in module.named_parameters():
            if name.endswith("alpha") or "norm" in name:
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
            elif "gate.alpha" in name:
                p.copy_(torch.randn_like(p) * (3.0 / p.shape[-1] ** 0.5))
            else:
                p.copy_(torch.randn_like(p) * (1.0 / p.shape[-1] ** 0.5))

state = {}
for name, p in gen.lm_model.state_dict().items():
    if "cross_attention.mha" in name and ".layers.0." not in name:
        continue  # shared: stored once, under layer 0, as in the release
    state[name] = p.contiguous().clone()
for name, p in proj.state_dict().items():
    state["image_prefix." + name] = p.contiguous().clone()

size = VISION["image_size"]
pixels = torch.rand(1, 3, size, size) * 2 - 1  # normalised to [-1, 1] as SigLIPNormalize does
with torch.no_grad():
    encoded = proj.enc(pixels)
    src = proj(pixels)["cross_attention_src"]
    kv = gen.precompte_ca_kv(src)


user_codes = torch.randint(0, LM["audio_card"], (STEPS, 8), generator=torch.Generator().manual_seed(7))


def run(with_image: bool):
    out = []
    with torch.no_grad(), gen.streaming():
        for step in range(STEPS):
            user = user_codes[step].view(1, 8, 1)
            ca = kv if with_image and step >= XA_START else None
            tokens, _ = gen.step(user, ca_src=ca)
            if tokens is not None:
                out.append(tokens[0, :, 0])
    return torch.stack(out)


tokens_image, tokens_plain = run(True), run(False)
differ = (tokens_image != tokens_plain).any(dim=1).sum().item()
print(f"frames that differ with the image: {differ} of {len(tokens_image)}")
save_file(state, str(HERE / "data" / "model.safetensors"))
save_file({"pixels": pixels.permute(0, 2, 3, 1).contiguous(), "encoded": encoded.contiguous(),
           "cross_src": src.contiguous(), "tokens_image": tokens_image.to(torch.int32),
           "tokens_plain": tokens_plain.to(torch.int32),
           "user_codes": user_codes.to(torch.int32)},
          str(HERE / "data" / "reference.safetensors"))
print("saved", len(state), "tensors")
