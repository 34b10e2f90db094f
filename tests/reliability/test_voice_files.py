"""Item 17: a tiny .pt voice file cannot make the reader allocate gigabytes: shapes are checked
against their storage, and storage sizes against a maximum, before anything is allocated."""

from __future__ import annotations

import zipfile

import pytest
import torch

from moshi_mlx.errors import CheckpointError
from moshi_mlx.personas import torch_pickle


def test_a_one_value_storage_viewed_as_a_huge_tensor_is_refused(tmp_path):
    path = tmp_path / "bomb.pt"
    torch.save({"embeddings": torch.zeros(1).expand(16000, 16000)}, path)
    assert path.stat().st_size < 4096
    with pytest.raises(CheckpointError, match="more items than its storage"):
        torch_pickle.read_torch_file(path)


def test_a_compressed_storage_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    plain, packed = tmp_path / "plain.pt", tmp_path / "packed.pt"
    torch.save({"embeddings": torch.zeros(1 << 20)}, plain)  # 4 MB of zeros
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item.filename))
    assert packed.stat().st_size < 64 * 1024
    monkeypatch.setattr(torch_pickle, "MAX_STORAGE_BYTES", 1 << 20)
    read = []
    original = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda self, name, *a: read.append(name) or original(self, name, *a))
    with pytest.raises(CheckpointError, match="refused before reading it"):
        torch_pickle.read_torch_file(packed)
    assert not any("/data/" in name for name in read)


def test_a_normal_voice_tensor_still_reads(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"embeddings": torch.arange(12.0).reshape(3, 4)}, path)
    obj = torch_pickle.read_torch_file(path)
    assert obj["embeddings"].shape == (3, 4)
