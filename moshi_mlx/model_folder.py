"""A model folder on disk, in any of the three forms (ours with config.json, Kyutai's MLX form,
Kyutai's PyTorch form): which files the engine loads. No network; moshi_mlx.hub resolves `--model`
(demo, folder, repo id) to such a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CheckpointError
from .jsonfile import read_json_object

_LM_FILES = ("model.q4.safetensors", "model.q8.safetensors", "model.safetensors")


@dataclass(frozen=True)
class ModelFiles:
    """Everything the engine loads for one model."""

    lm_path: Path
    mimi_path: Path
    tokenizer_path: Path
    config: dict = field(default_factory=dict)  # the folder's config.json ({} when it has none)
    name: str = ""
    is_demo: bool = False


def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        return {}
    return read_json_object(path)


def _pick(folder: Path, named: str | None, pattern: str, what: str, exclude=()) -> Path:
    if named:
        path = folder / named
        if not path.is_file():
            raise CheckpointError(f"{folder}: config.json names {what} file {named!r}, which is missing")
        return path
    found = sorted(p for p in folder.glob(pattern) if p.name not in exclude)
    if not found:
        raise CheckpointError(f"{folder}: no {what} file ({pattern}) in this model folder")
    return found[0]


def folder_files(folder: str | os.PathLike, name: str | None = None, is_demo: bool = False) -> ModelFiles:
    """ModelFiles of a local folder in any of the three forms."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise CheckpointError(f"model folder {folder} does not exist")
    config = _read_config(folder)
    mimi = _pick(folder, config.get("mimi_name"), "tokenizer-*.safetensors", "Mimi weights")
    tok = _pick(folder, config.get("tokenizer_name"), "*.model", "sentencepiece tokenizer")
    lm_name = config.get("model_file") or config.get("moshi_name")
    if lm_name is None:
        lm_name = next((f for f in _LM_FILES if (folder / f).is_file()), None)
    lm = _pick(folder, lm_name, "*.safetensors", "LM weights", exclude=(mimi.name,))
    return ModelFiles(lm, mimi, tok, config, name or str(folder), is_demo)
