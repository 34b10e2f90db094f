"""Every bad input of issue 5: a clear error naming the file or key, a non-zero exit code, and
nothing left behind (no output folder, no temporary folder)."""

import json
import os
import pickle
import re
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from moshi_mlx.errors import CheckpointError, ConfigError, MoshiError
from moshi_quantize import cli
from moshi_quantize.convert import convert
from tests.quantize.checkpoints import MIMI_NAME, TOKENIZER_NAME
from tests.test_config_check import BAD_LM_VALUES


def variant(tmp_path, release_folder, name, state_fn=None):
    """A copy of the release folder, its LM state changed by `state_fn`."""
    src, state = release_folder
    folder = tmp_path / name
    shutil.copytree(src, folder)
    if state_fn is not None:
        save_file(state_fn(dict(state)), str(folder / "model.safetensors"))
    return folder


def fails(out_parent, match, *args, error=MoshiError, **kwargs):
    with pytest.raises(error, match=match) as info:
        convert(*args, **kwargs)
    assert list(out_parent.iterdir()) == [], "a failed conversion left files behind"
    return str(info.value)


def test_not_a_moshi_checkpoint(tmp_path, release_folder, out_parent):
    src, _ = release_folder
    out = out_parent / "o"
    msg = fails(out_parent, "not a Moshi LM checkpoint", None, out, lm_file=src / MIMI_NAME,
                mimi_file=src / MIMI_NAME, tokenizer_file=src / TOKENIZER_NAME, error=CheckpointError)
    assert MIMI_NAME in msg and "Mimi" in msg
    other = variant(tmp_path, release_folder, "other", lambda s: {"foo.bar": torch.zeros(3)})
    fails(out_parent, "model.safetensors.*not a Moshi LM", str(other), out)
    convert(str(src), tmp_path / "mlx", bits=4)  # an MLX output given back as input
    shutil.copy(src / "config.json", tmp_path / "mlx" / "config.json")
    fails(out_parent, "already-quantized|already an MLX", str(tmp_path / "mlx"), out)


def test_missing_unexpected_and_misshaped_keys(tmp_path, release_folder, out_parent):
    out = out_parent / "o"
    missing = variant(tmp_path, release_folder, "missing",
                      lambda s: {k: v for k, v in s.items() if k != "text_linear.weight"})
    msg = fails(out_parent, "missing weights", str(missing), out, bits=4)
    assert "text_linear.weight" in msg and str(missing / "model.safetensors") in msg
    extra = variant(tmp_path, release_folder, "extra", lambda s: {**s, "transformer.extra.weight": torch.zeros(4, 4)})
    assert "transformer.extra.weight" in fails(out_parent, "unexpected keys", str(extra), out)
    shape = variant(tmp_path, release_folder, "shape",
                    lambda s: {**s, "linears.3.weight": s["linears.3.weight"][:-1].contiguous()})
    assert "linears.3.weight" in fails(out_parent, "shape", str(shape), out, bits=8)
    # a config that does not match the weights (dim 128 instead of 256)
    wrong = variant(tmp_path, release_folder, "wrongcfg")
    cfg = json.loads((wrong / "config.json").read_text())
    (wrong / "config.json").write_text(json.dumps({**cfg, "dim": 128}))
    fails(out_parent, "expects", str(wrong), out, error=CheckpointError)
    cfg["no_such_option"] = 1
    (wrong / "config.json").write_text(json.dumps(cfg))
    fails(out_parent, "no_such_option", str(wrong), out, error=ConfigError)


def test_truncated_and_corrupt_safetensors(tmp_path, release_folder, out_parent):
    out = out_parent / "o"
    trunc = variant(tmp_path, release_folder, "trunc")
    lm = trunc / "model.safetensors"
    os.truncate(lm, lm.stat().st_size - 1000)
    assert str(lm) in fails(out_parent, "truncated", str(trunc), out, bits=4, error=CheckpointError)
    os.truncate(lm, 5)
    fails(out_parent, "not a safetensors", str(trunc), out, error=CheckpointError)
    corrupt = variant(tmp_path, release_folder, "corrupt")
    lm = corrupt / "model.safetensors"
    data = bytearray(lm.read_bytes())
    data[8:40] = b"\xff" * 32  # garbage in the JSON header
    lm.write_bytes(bytes(data))
    fails(out_parent, "corrupt safetensors header", str(corrupt), out, error=CheckpointError)
    lm.write_bytes(os.urandom(4096))
    fails(out_parent, str(lm), str(corrupt), out, error=CheckpointError)
    bad_mimi = variant(tmp_path, release_folder, "badmimi")
    os.truncate(bad_mimi / MIMI_NAME, 100)
    fails(out_parent, MIMI_NAME, str(bad_mimi), out, error=CheckpointError)
    bad_tok = variant(tmp_path, release_folder, "badtok")
    (bad_tok / TOKENIZER_NAME).write_bytes(b"not a sentencepiece model")
    fails(out_parent, "sentencepiece", str(bad_tok), out, error=CheckpointError)
    no_tok = variant(tmp_path, release_folder, "notok")
    (no_tok / TOKENIZER_NAME).unlink()
    fails(out_parent, "text tokenizer", str(no_tok), out, error=CheckpointError)


def test_unwritable_output(tmp_path, release_folder, out_parent):
    src, _ = release_folder
    blocker = out_parent / "a-file"
    blocker.write_text("x")
    with pytest.raises(CheckpointError, match="cannot write the output folder"):
        convert(str(src), blocker / "out", bits=4)
    assert [p.name for p in out_parent.iterdir()] == ["a-file"]
    if os.geteuid() != 0:  # root writes anywhere: the case above covers CI
        locked = out_parent / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(CheckpointError, match="cannot write"):
            convert(str(src), locked / "out", bits=4)
        assert list(locked.iterdir()) == []


def test_existing_output_needs_force(tmp_path, release_folder, out_parent):
    src, _ = release_folder
    out = out_parent / "o"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="already exists.*--force"):
        convert(str(src), out, bits=4)
    with pytest.raises(CheckpointError, match="not a moshi-quantize output"):
        convert(str(src), out, bits=4, force=True)  # never wipes a folder it did not make
    assert (out / "precious.txt").read_text() == "mine"
    assert sorted(p.name for p in out_parent.iterdir()) == ["o"]
    assert cli.main([str(src), "-o", str(out), "--no-progress"]) == 2


def test_unsafe_pickle_is_refused(tmp_path, release_folder, out_parent):
    folder = variant(tmp_path, release_folder, "evil")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(folder / "model.pt", "wb") as f:
        pickle.dump({"text_emb.weight": Evil()}, f, protocol=2)
    fails(out_parent, "model.pt.*weights_only", str(folder), out_parent / "o", error=CheckpointError)
    assert not marker.exists(), "the pickle's code ran"


def test_pickle_without_torch_gives_a_clear_error(tmp_path, release_folder, out_parent, monkeypatch):
    folder = variant(tmp_path, release_folder, "pt")
    torch.save(release_folder[1], folder / "model.pt")
    (folder / "model.safetensors").unlink()
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    fails(out_parent, "need torch installed", str(folder), out_parent / "o", error=CheckpointError)


def test_bad_options_and_sources(tmp_path, release_folder, out_parent):
    src, _ = release_folder
    out = out_parent / "o"
    fails(out_parent, "--keep needs --bits", str(src), out, keep="embeddings", error=ConfigError)
    fails(out_parent, "dtype", str(src), out, dtype="int4", error=ConfigError)
    fails(out_parent, "no such folder", str(tmp_path / "nope"), out, error=CheckpointError)
    fails(out_parent, "no LM weights", str(tmp_path), out, error=CheckpointError)
    assert cli.main([str(tmp_path / "nope"), "-o", str(out), "--bits", "4"]) == 2


def test_weights_with_nan_or_inf_are_refused(tmp_path, release_folder, out_parent):
    out = out_parent / "o"
    nan = variant(tmp_path, release_folder, "nan",
                  lambda s: {**s, "text_emb.weight": torch.full_like(s["text_emb.weight"], float("nan"))})
    msg = fails(out_parent, "'text_emb.weight' holds .* NaN or infinite", str(nan), out, bits=4,
                error=CheckpointError)
    assert str(nan / "model.safetensors") in msg

    def one_inf(s):
        w = s["linears.3.weight"].clone()
        w[0, 0] = float("inf")
        return {**s, "linears.3.weight": w}

    inf = variant(tmp_path, release_folder, "inf", one_inf)
    fails(out_parent, "'linears.3.weight' holds 1 NaN or infinite", str(inf), out, error=CheckpointError)


@pytest.mark.parametrize("change, expected", BAD_LM_VALUES[:5])
def test_config_values_of_the_wrong_type_or_range(tmp_path, release_folder, out_parent, change, expected):
    folder = variant(tmp_path, release_folder, "cfg")
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, **change}))
    msg = fails(out_parent, re.escape(expected), str(folder), out_parent / "o", error=ConfigError)
    assert "config.json" in msg or str(folder) in msg
    r = subprocess.run([sys.executable, "-m", "moshi_quantize", str(folder), "-o", str(out_parent / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "'" + next(iter(change)) + "'" in r.stderr
