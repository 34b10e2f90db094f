"""The command line (`moshi-quantize`, `python -m moshi_quantize`) and source resolution."""

import json
import shutil
import subprocess
import sys

import huggingface_hub

from moshi_quantize import cli
from moshi_quantize.sources import resolve
from tests.quantize.checkpoints import MIMI_NAME, TOKENIZER_NAME


def test_python_dash_m_converts_with_progress_and_summary(release_folder, out_parent):
    src, _ = release_folder
    result = subprocess.run(
        [sys.executable, "-m", "moshi_quantize", str(src), "-o", str(out_parent / "q4"), "--bits", "4",
         "--keep", "embeddings,heads", "--keep-bits", "8"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "bits per weight" in result.stdout and "converting" in result.stderr  # tqdm bar on stderr
    q = json.loads((out_parent / "q4" / "config.json").read_text())["quantization"]
    assert q["text_linear"] == {"bits": 8, "group_size": 64}
    again = subprocess.run([sys.executable, "-m", "moshi_quantize", str(src), "-o", str(out_parent / "q4")],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr


def test_explicit_files_and_config(release_folder, tmp_path, out_parent):
    src, _ = release_folder
    loose = tmp_path / "loose"
    loose.mkdir()
    for name, new in (("model.safetensors", "lm.safetensors"), (MIMI_NAME, "mimi.safetensors"),
                      (TOKENIZER_NAME, "tok.model"), ("config.json", "cfg.json")):
        shutil.copy(src / name, loose / new)
    assert cli.main(["--lm", str(loose / "lm.safetensors"), "--mimi", str(loose / "mimi.safetensors"),
                     "--tokenizer", str(loose / "tok.model"), "--config", str(loose / "cfg.json"),
                     "-o", str(out_parent / "o"), "--bits", "8", "--no-progress"]) == 0
    config = json.loads((out_parent / "o" / "config.json").read_text())
    assert config["mimi_name"] == "mimi.safetensors" and config["tokenizer_name"] == "tok.model"
    assert (out_parent / "o" / "tok.model").read_bytes() == (src / TOKENIZER_NAME).read_bytes()


def test_repo_id_downloads_only_the_needed_files(release_folder, monkeypatch):
    src, _ = release_folder
    calls = []

    def fake_snapshot_download(repo_id, allow_patterns=None, **kwargs):
        calls.append((repo_id, sorted(allow_patterns)))
        return str(src)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    found = resolve("kyutai/moshiko-pytorch-bf16")
    assert calls == [("kyutai/moshiko-pytorch-bf16", ["config.json"]),
                     ("kyutai/moshiko-pytorch-bf16", sorted(["model.safetensors", MIMI_NAME, TOKENIZER_NAME]))]
    assert found.lm == src / "model.safetensors" and found.config is not None


def test_repo_id_offline_is_a_clear_error(monkeypatch, out_parent):
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(repo_id, **kwargs):
        raise LocalEntryNotFoundError("offline")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    assert cli.main(["kyutai/moshika-pytorch-bf16", "-o", str(out_parent / "o")]) == 2
    assert list(out_parent.iterdir()) == []


def test_source_may_be_the_lm_file_itself(release_folder, out_parent):
    from moshi_quantize.convert import convert

    src, _ = release_folder  # what the desktop app passes: the file picked in its dialog
    summary = convert(str(src / "model.safetensors"), out_parent / "o", bits=4)
    assert summary.source_lm == src / "model.safetensors"
    assert json.loads((out_parent / "o" / "config.json").read_text())["dim"] == 256


def test_verify_from_explicit_files(release_folder, out_parent):
    src, _ = release_folder
    assert cli.main(["--lm", str(src / "model.safetensors"), "--mimi", str(src / MIMI_NAME),
                     "--tokenizer", str(src / TOKENIZER_NAME), "--config", str(src / "config.json"),
                     "-o", str(out_parent / "o"), "--verify", "--verify-frames", "4", "--no-progress"]) == 0
