"""moshi-quantize --lora: a moshi-finetune adapter merged as moshi 0.2.13 fuses it
(replace_all_linear_with_lora + replace_lora_with_linear), for Moshi's and PersonaPlex's layouts;
a moshi-finetune consolidated.safetensors loads as a normal checkpoint."""

import json

import mlx.core as mx
import numpy as np
import pytest
import torch
from mlx.utils import tree_flatten
from safetensors.torch import save_file

from moshi_mlx.errors import CheckpointError, ConfigError
from moshi_mlx.lm import load_lm
from moshi_quantize.convert import convert

from .checkpoints import make_lm, release_state_dict, tiny_config, write_release_folder

RANK, SCALING = 4, 2.0
SMALL = dict(num_layers=1, dim=128, depformer_dim=128, depformer_dim_feedforward=int(4.125 * 128))
LAYOUTS = {"moshi": tiny_config(**SMALL), "personaplex": tiny_config(**SMALL, dep_q=16)}


def adapted(config, older_names: bool):
    """(adapter tensors, the model fused by moshi): LoRA on every Linear with random A and B, and
    one embedding trained in full (moshi-finetune's ft_embed)."""
    from moshi.modules.lora import replace_all_linear_with_lora, replace_lora_with_linear

    model = make_lm(config, seed=0)
    replace_all_linear_with_lora(model, RANK, SCALING, device="cpu", dtype=torch.float32)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.05)
        model.emb[0].weight.add_(1.0)
    adapter = {k: v.clone() for k, v in model.state_dict().items() if "lora_" in k}
    adapter["emb.0.weight"] = model.emb[0].weight.detach().clone()
    if older_names:  # older adapters: the temporal attention's projections as one module
        adapter = {k.replace("self_attn.in_projs.0.", "self_attn.in_proj.")
                   .replace("self_attn.out_projs.0.", "self_attn.out_proj.")
                   if k.startswith("transformer.") else k: v for k, v in adapter.items()}
    replace_lora_with_linear(model)
    return adapter, model


def write_adapter(folder, adapter, **config):
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in adapter.items()}, str(folder / "lora.safetensors"))
    (folder / "config.json").write_text(json.dumps({"lora": True, "lora_rank": RANK,
                                                    "lora_scaling": SCALING, **config}))
    return folder / "lora.safetensors"


def params(path):
    return dict(tree_flatten(load_lm(path, dtype=mx.float32).parameters()))


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(np.array(a[k]), np.array(b[k]), atol=2e-5, err_msg=k)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    root = tmp_path_factory.mktemp("lora-bases")
    for name, config in LAYOUTS.items():
        write_release_folder(root / name, config, dtype=torch.float32)
    return root


@pytest.mark.parametrize("layout,older", [("moshi", False), ("personaplex", False), ("moshi", True)])
def test_merge_equals_moshi_fusion(bases, tmp_path, layout, older):
    config = LAYOUTS[layout]
    adapter, fused = adapted(config, older)
    lora = write_adapter(tmp_path / "adapter", adapter)
    merged = convert(str(bases / layout), tmp_path / "merged", dtype="fp32", lora=lora)
    reference = tmp_path / "reference"
    write_release_folder(reference, config, dtype=torch.float32)  # Mimi, tokenizer, config.json
    save_file(release_state_dict(fused), str(reference / "model.safetensors"))
    expected = convert(str(reference), tmp_path / "fused", dtype="fp32")
    assert_same(params(merged.output), params(expected.output))
    if layout == "personaplex":  # and quantized
        q4 = convert(str(bases / layout), tmp_path / "q4", bits=4, lora=lora)
        assert q4.quantization["bits"] == 4


def test_consolidated_checkpoint_loads_as_is(tmp_path):
    """moshi-finetune's merged output: the in-memory names (in_projs.{i}) and its config.json."""
    config = LAYOUTS["personaplex"]
    _, fused = adapted(config, False)
    folder = tmp_path / "consolidated"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in fused.state_dict().items()},
              str(folder / "consolidated.safetensors"))
    raw = {**config.pytorch_kwargs(), "lora": True, "lora_rank": RANK, "lora_scaling": SCALING,
           "depformer_context": config.dep_q, "depformer_causal": True}
    raw.pop("demux_second_text_stream")
    (folder / "config.json").write_text(json.dumps(raw))
    reference = tmp_path / "reference"
    write_release_folder(reference, config, dtype=torch.float32)
    save_file(release_state_dict(fused), str(reference / "model.safetensors"))
    assert_same(params(folder / "consolidated.safetensors"), params(reference / "model.safetensors"))


def test_bad_adapters_write_nothing(bases, tmp_path):
    other, _ = adapted(tiny_config(**{**SMALL, "dim": 64}), False)
    lora = write_adapter(tmp_path / "other", other)
    with pytest.raises(CheckpointError, match="lora.safetensors"):
        convert(str(bases / "moshi"), tmp_path / "out", lora=lora)
    adapter, _ = adapted(LAYOUTS["moshi"], False)
    lora = write_adapter(tmp_path / "norank", adapter)
    (tmp_path / "norank" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="lora_rank"):
        convert(str(bases / "moshi"), tmp_path / "out", lora=lora)
    write_adapter(tmp_path / "wrongrank", adapter)
    (tmp_path / "wrongrank" / "config.json").write_text(json.dumps({"lora_rank": 8, "lora_scaling": 2}))
    with pytest.raises(CheckpointError, match="rank 8"):
        convert(str(bases / "moshi"), tmp_path / "out", lora=tmp_path / "wrongrank" / "lora.safetensors")
    assert not (tmp_path / "out").exists()
