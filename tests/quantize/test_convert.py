"""convert() on random release-format checkpoints: layout, values, config, manifest, options."""

import json
import threading

import mlx.core as mx
import pytest

from moshi_mlx.lm.config import LmConfig
from moshi_mlx.lm.weights import sanitize, stored_shapes
from moshi_quantize.convert import convert
from moshi_quantize.outdir import ConversionCancelled, verify_manifest
from tests.quantize.checkpoints import MIMI_NAME, TOKENIZER_NAME, tiny_config


def _source_weights(folder):
    return sanitize(mx.load(str(folder / "model.safetensors")), tiny_config())


def test_unquantized_conversion_changes_no_weight(release_folder, out_parent):
    src, _ = release_folder
    summary = convert(str(src), out_parent / "bf16")
    out = mx.load(str(out_parent / "bf16" / "model.safetensors"))
    ref = _source_weights(src)
    assert set(out) == set(ref)
    for name, value in ref.items():
        assert out[name].dtype == mx.bfloat16
        assert mx.array_equal(out[name], value).item(), name
    assert summary.quantization is None and summary.quantized_tensors == 0
    assert abs(summary.bits_per_weight - 16) < 0.1


def test_fp32_output_keeps_bf16_values(release_folder, out_parent):
    src, _ = release_folder
    convert(str(src), out_parent / "fp32", dtype="fp32")
    out = mx.load(str(out_parent / "fp32" / "model.safetensors"))
    for name, value in _source_weights(src).items():
        assert out[name].dtype == mx.float32
        assert mx.array_equal(out[name], value.astype(mx.float32)).item(), name


@pytest.mark.parametrize("bits,group", [(4, 32), (8, 64)])
def test_quantized_layout_and_values(release_folder, out_parent, bits, group):
    src, _ = release_folder
    summary = convert(str(src), out_parent / f"q{bits}", bits=bits)
    folder = out_parent / f"q{bits}"
    assert summary.model_file == f"model.q{bits}.safetensors"
    out = mx.load(str(folder / summary.model_file))
    config = json.loads((folder / "config.json").read_text())
    assert config["quantization"] == {"group_size": group, "bits": bits, "mode": "affine"}
    assert config["moshi_name"] == summary.model_file
    assert config["mimi_name"] == MIMI_NAME and config["tokenizer_name"] == TOKENIZER_NAME
    assert {k: tuple(v.shape) for k, v in out.items()} == stored_shapes(tiny_config(), config["quantization"])
    ref = _source_weights(src)
    n_quantized = 0
    for name, value in ref.items():
        module = name[: -len(".weight")]
        if value.ndim == 2:  # every Linear and Embedding, as in Kyutai's MLX releases
            n_quantized += 1
            wq, scales, biases = mx.quantize(value, group_size=group, bits=bits)
            assert out[name].dtype == mx.uint32 and out[f"{module}.scales"].dtype == mx.bfloat16
            for got, want in ((out[name], wq), (out[f"{module}.scales"], scales),
                              (out[f"{module}.biases"], biases)):
                assert mx.array_equal(got, want).item(), name
            deq = mx.dequantize(out[name], out[f"{module}.scales"], out[f"{module}.biases"],
                                group_size=group, bits=bits)
            err = mx.abs(deq.astype(mx.float32) - value.astype(mx.float32)).max().item()
            assert err < (0.02 if bits == 8 else 0.2) * mx.abs(value).max().item()
        else:  # norms stay float
            assert mx.array_equal(out[name], value).item()
    assert summary.quantized_tensors == n_quantized
    assert summary.bits_per_weight == pytest.approx(5.0 if bits == 4 else 8.5, abs=0.1)
    # config.json reads back into the same architecture
    assert LmConfig.from_dict(config) == LmConfig.from_dict(json.loads((src / "config.json").read_text()))


def test_copies_mimi_and_tokenizer_and_writes_manifest(release_folder, out_parent):
    src, _ = release_folder
    summary = convert(str(src), out_parent / "q4", bits=4)
    folder = out_parent / "q4"
    for name in (MIMI_NAME, TOKENIZER_NAME):
        assert (folder / name).read_bytes() == (src / name).read_bytes()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {summary.model_file, MIMI_NAME, TOKENIZER_NAME, "config.json"}
    assert verify_manifest(folder) == []
    (folder / "config.json").write_text((folder / "config.json").read_text() + " ")
    assert verify_manifest(folder) and "config.json" in verify_manifest(folder)[0]
    assert sorted(p.name for p in out_parent.iterdir()) == ["q4"]  # no temporary folder left


def test_keep_parts_at_higher_precision(release_folder, out_parent):
    src, _ = release_folder
    convert(str(src), out_parent / "mixed", bits=4, keep={"embeddings": 8, "heads": 16})
    folder = out_parent / "mixed"
    q = json.loads((folder / "config.json").read_text())["quantization"]
    assert q["bits"] == 4 and q["group_size"] == 32
    assert q["text_emb"] == {"bits": 8, "group_size": 64}
    assert q["audio_embs.3"] == {"bits": 8, "group_size": 64}
    assert q["depformer.slices.0.emb"] == {"bits": 8, "group_size": 64}
    assert q["text_linear"] is False and q["depformer.slices.7.linear_out"] is False
    assert "transformer.layers.0.self_attn.in_proj" not in q  # default 4 bits
    out = mx.load(str(folder / "model.q4.safetensors"))
    assert {k: tuple(v.shape) for k, v in out.items()} == stored_shapes(tiny_config(), q)
    assert out["text_linear.weight"].dtype == mx.bfloat16 and "text_linear.scales" not in out
    ref = _source_weights(src)
    wq, _, _ = mx.quantize(ref["text_emb.weight"], group_size=64, bits=8)
    assert mx.array_equal(out["text_emb.weight"], wq).item()


def test_keep_depformer_by_glob_and_typo(release_folder, out_parent):
    src, _ = release_folder
    convert(str(src), out_parent / "g", bits=4, keep=["depformer.slices.*.transformer.*"])
    q = json.loads((out_parent / "g" / "config.json").read_text())["quantization"]
    assert q["depformer.slices.2.transformer.layers.0.gating.linear_in"] == {"bits": 8, "group_size": 64}
    assert "depformer.slices.2.linear_in" not in q
    from moshi_mlx.errors import ConfigError
    with pytest.raises(ConfigError, match="embedings"):
        convert(str(src), out_parent / "typo", bits=4, keep="embedings")
    assert sorted(p.name for p in out_parent.iterdir()) == ["g"]


def test_progress_reaches_total_and_cancel_leaves_nothing(release_folder, out_parent):
    src, _ = release_folder
    calls = []
    convert(str(src), out_parent / "p", bits=8, progress=lambda d, t: calls.append((d, t)))
    done = [d for d, _ in calls]
    assert done == sorted(done) and calls[-1][0] == calls[-1][1] and len(calls) > 10

    cancel = threading.Event()

    def cancel_midway(d, t):
        if d > t / 3:
            cancel.set()
    with pytest.raises(ConversionCancelled):
        convert(str(src), out_parent / "c", bits=4, progress=cancel_midway, cancel=cancel)
    assert sorted(p.name for p in out_parent.iterdir()) == ["p"]

    def interrupt(d, t):
        if d > t / 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        convert(str(src), out_parent / "k", bits=4, progress=interrupt)
    assert sorted(p.name for p in out_parent.iterdir()) == ["p"]


def test_runs_in_a_worker_thread(release_folder, out_parent):
    src, _ = release_folder
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("s", convert(str(src), out_parent / "t", bits=4)))
    t.start()
    t.join(120)
    assert result["s"].output == (out_parent / "t").absolute()


def test_force_replaces_a_previous_output(release_folder, out_parent):
    src, _ = release_folder
    convert(str(src), out_parent / "o", bits=8)
    convert(str(src), out_parent / "o", bits=4, force=True)
    assert sorted(p.name for p in (out_parent / "o").iterdir()) == sorted(
        ["model.q4.safetensors", MIMI_NAME, TOKENIZER_NAME, "config.json", "manifest.json"])
    assert sorted(p.name for p in out_parent.iterdir()) == ["o"]


def test_pickle_checkpoint_via_weights_only(release_folder, tmp_path, out_parent):
    import shutil

    import torch

    src, state = release_folder
    folder = tmp_path / "pt"
    shutil.copytree(src, folder)
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "model.pt")
    convert(str(folder), out_parent / "from-pt")
    a = mx.load(str(out_parent / "from-pt" / "model.safetensors"))
    for name, value in _source_weights(src).items():
        assert mx.array_equal(a[name], value).item(), name
    # Kyutai's training package layout ({"fsdp_best_state": {"model": ...}}) is found too
    torch.save({"fsdp_best_state": {"model": state}}, folder / "model.pt")
    convert(str(folder), out_parent / "from-pkg", bits=4)
    convert(str(src), out_parent / "from-st", bits=4)
    a = mx.load(str(out_parent / "from-pkg" / "model.q4.safetensors"))
    b = mx.load(str(out_parent / "from-st" / "model.q4.safetensors"))
    assert set(a) == set(b) and all(mx.array_equal(a[k], b[k]).item() for k in a)
    # the legacy (non-zip) pickle format cannot be memory-mapped: read whole, still weights_only
    (folder / "model.pt").unlink()
    torch.save(state, folder / "model.bin", _use_new_zipfile_serialization=False)
    convert(str(folder), out_parent / "from-legacy", bits=4)
    c = mx.load(str(out_parent / "from-legacy" / "model.q4.safetensors"))
    assert all(mx.array_equal(c[k], b[k]).item() for k in b)


def test_source_metadata_is_kept(release_folder, tmp_path, out_parent):
    import shutil

    src, _ = release_folder
    folder = tmp_path / "meta"
    shutil.copytree(src, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(lm_gen_config={"temp": 0.6}, model_type="moshi", moshi_name="model.safetensors")
    (folder / "config.json").write_text(json.dumps(cfg))
    convert(str(folder), out_parent / "o", bits=8)
    out = json.loads((out_parent / "o" / "config.json").read_text())
    assert out["lm_gen_config"] == {"temp": 0.6} and out["model_type"] == "moshi"
    assert out["moshi_name"] == "model.q8.safetensors"
