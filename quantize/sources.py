"""Where the input comes from: a local folder, a Hugging Face repo id, the LM weights file (the
other files beside it), or explicit file paths.

From a repo id only the needed files are fetched (`snapshot_download` with `allow_patterns`): first
config.json if the repo has one, then the three files it names (Kyutai's default names otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from moshi_mlx.errors import CheckpointError, ConfigError, ModelNotAvailableError
from moshi_mlx.jsonfile import read_json_object

from .readers import PICKLE_SUFFIXES, SAFETENSORS_SUFFIXES

LM_NAME = "model.safetensors"
MIMI_NAME = "tokenizer-e351c8d8-checkpoint125.safetensors"
TOKENIZER_NAME = "tokenizer_spm_32k_3.model"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Sources:
    lm: Path
    mimi: Path
    tokenizer: Path
    config: dict | None  # the raw config.json (Kyutai lm_kwargs names), None for Moshi 7B repos
    origin: str  # what the user named: folder or repo id


def resolve(source: str | Path | None, *, lm: str | Path | None = None, mimi: str | Path | None = None,
            tokenizer: str | Path | None = None, config: str | Path | None = None) -> Sources:
    """Finds the LM weights, Mimi weights, text tokenizer and optional config.json. Explicit paths
    win over what the folder or repo holds."""
    raw_config = _read_config(Path(config)) if config is not None else None
    if source is None:
        if lm is None or mimi is None or tokenizer is None:
            raise CheckpointError("no source given: name a folder or a Hugging Face repo id, "
                                  "or give all of --lm, --mimi and --tokenizer")
        return Sources(_file(lm), _file(mimi), _file(tokenizer), raw_config, str(lm))
    folder = Path(source).expanduser()
    if folder.is_file():  # the LM weights file itself: the other files are looked up beside it
        lm, folder = (lm if lm is not None else folder), folder.parent
    elif not folder.is_dir():
        if not _REPO_ID.match(str(source)) or str(source).startswith((".", "/", "~")):
            raise CheckpointError(f"{source}: no such folder (and not a Hugging Face repo id)")
        folder = _download(str(source), raw_config, lm, mimi, tokenizer)
    if raw_config is None and (folder / "config.json").is_file():
        raw_config = _read_config(folder / "config.json")
    names = raw_config or {}
    return Sources(
        lm=_file(lm) if lm is not None else _find_lm(folder, names.get("moshi_name", LM_NAME)),
        mimi=_file(mimi) if mimi is not None else _find(folder, names.get("mimi_name", MIMI_NAME),
                                                        "tokenizer-*.safetensors", "Mimi weights"),
        tokenizer=_file(tokenizer) if tokenizer is not None else _find(
            folder, names.get("tokenizer_name", TOKENIZER_NAME), "*.model", "text tokenizer"),
        config=raw_config, origin=str(source))


def _read_config(path: Path) -> dict:
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such config file")
    return read_json_object(path, ConfigError)


def _file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise CheckpointError(f"{p}: no such file")
    return p


def _find(folder: Path, name: str, pattern: str, what: str) -> Path:
    if (folder / name).is_file():
        return folder / name
    found = sorted(folder.glob(pattern))
    if len(found) == 1:
        return found[0]
    hint = f" (several match {pattern}: {', '.join(p.name for p in found)})" if found else ""
    raise CheckpointError(f"{folder}: no {what} file {name}{hint}")


def _find_lm(folder: Path, name: str) -> Path:
    if (folder / name).is_file():
        return folder / name
    candidates = [p for p in sorted(folder.iterdir()) if p.is_file()
                  and p.suffix in SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES
                  and not p.name.startswith("tokenizer")]
    if len(candidates) == 1:
        return candidates[0]
    if any(p.name.startswith("model.q") for p in candidates):
        raise CheckpointError(f"{folder}: holds already-quantized MLX weights "
                              f"({', '.join(p.name for p in candidates)}), not a PyTorch checkpoint")
    hint = f"; several candidates: {', '.join(p.name for p in candidates)} (choose one with --lm)" \
        if candidates else ""
    raise CheckpointError(f"{folder}: no LM weights file {name}{hint}")


def _download(repo: str, raw_config: dict | None, lm, mimi, tokenizer) -> Path:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        raise ModelNotAvailableError(f"{repo}: huggingface_hub is not installed") from None
    try:
        folder = Path(snapshot_download(repo, allow_patterns=["config.json"]))
        if raw_config is None and (folder / "config.json").is_file():
            raw_config = _read_config(folder / "config.json")
        names = raw_config or {}
        wanted = [names.get("moshi_name", LM_NAME) if lm is None else None,
                  names.get("mimi_name", MIMI_NAME) if mimi is None else None,
                  names.get("tokenizer_name", TOKENIZER_NAME) if tokenizer is None else None]
        wanted = [w for w in wanted if w]
        if names.get("model_type") == "personaplex" and wanted:
            wanted.append("voices.tgz")  # its voices follow the converted model (see voices.py)
        if wanted:
            folder = Path(snapshot_download(repo, allow_patterns=wanted))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as e:
        raise ModelNotAvailableError(f"{repo}: cannot download from Hugging Face ({e})") from None
    return folder
