"""Loading the assistant's LLM: `demo-llm`, a scripted model, an mlx-lm folder or a HF repo id.

A repo is downloaded once into the HF cache through the project's hub transfer (resumable,
verified, `progress(done_bytes, total_bytes)`), with the files mlx-lm itself fetches, never code.
Every failure a user can cause is one MoshiError line naming the folder, file or key. Loading calls
MLX: run it on the MLX worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import CheckpointError, ConfigError, ModelNotAvailableError

DEMO_SPECS = {"demo-llm": "qwen", "demo-llm-mistral": "mistral"}
SCRIPTED_PREFIX = "scripted:"


@dataclass
class LoadedLLM:
    """An mlx-lm model with its TokenizerWrapper; `name` for messages, `is_demo` for random weights."""

    model: Any
    tokenizer: Any  # mlx_lm.tokenizer_utils.TokenizerWrapper
    name: str
    is_demo: bool = False
    path: Path | None = None


def load_llm(spec: str, cache_dir: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> LoadedLLM:
    """`demo-llm`, `scripted:FILE.json` (scripted.py), an mlx-lm model folder, or a HF repo id
    (downloaded into the HF cache unless there; `progress(done_bytes, total_bytes)`)."""
    if spec in DEMO_SPECS:
        from .demo_llm import DEMO_NOTE, demo_llm_dir

        loaded = _load_folder(demo_llm_dir(cache_dir, DEMO_SPECS[spec]), f"{spec} ({DEMO_NOTE})")
        loaded.is_demo = True
        return loaded
    if spec.startswith(SCRIPTED_PREFIX):
        from .scripted import load_script

        return load_script(spec[len(SCRIPTED_PREFIX):], cache_dir)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _load_folder(path, str(path))
    if path.exists():
        raise CheckpointError(f"--llm {spec}: a file, not a model folder (give the folder that holds "
                              "config.json and the .safetensors)")
    if spec.count("/") != 1 or spec.startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"--llm {spec!r}: not a folder and not a Hugging Face repo id "
                                     "(org/name); try demo-llm or mlx-community/Qwen3-4B-Instruct-2507-4bit")
    from .. import hub

    try:
        folder = _download(spec, cache_dir, progress)
    except ModelNotAvailableError as e:
        if hub.is_installed(spec, cache_dir) or not hub.is_offline():
            raise ModelNotAvailableError(f"--llm {spec}: {e}") from None
        raise ModelNotAvailableError(
            f"--llm {spec}: not downloaded and the network is off (HF_HUB_OFFLINE=1 or no connection); "
            f"download it once while online (`huggingface-cli download {spec}`), pass a local mlx-lm "
            "folder, or use --llm demo-llm") from None
    return _load_folder(folder, spec)


def _download(repo_id: str, cache_dir: str | None, progress) -> Path:
    """The repo's snapshot folder in the HF cache (no network when there), else downloaded with the
    project's resumable, verified transfer: the files mlx-lm itself fetches (weights, JSON, chat
    template .jinja, tokenizer files), never Python code."""
    from .. import hub

    if hub.is_installed(repo_id, cache_dir):
        return hub._snapshot_folder(repo_id, cache_dir)
    if hub.is_offline():
        raise ModelNotAvailableError("offline")
    hub.probe(repo_id)
    hub._transfer(repo_id, lambda: _llm_files(repo_id), cache_dir, progress, None)
    return hub._snapshot_folder(repo_id, cache_dir)


def _llm_files(repo_id: str) -> tuple[str, ...]:
    from fnmatch import fnmatch

    from huggingface_hub import HfApi, constants
    from mlx_lm.utils import DEFAULT_ALLOW_PATTERNS

    patterns = [p for p in DEFAULT_ALLOW_PATTERNS if not p.endswith(".py")]
    files = [f for f in HfApi(endpoint=constants.ENDPOINT).list_repo_files(repo_id)
             if "/" not in f and any(fnmatch(f, p) for p in patterns)]
    if not any(f.endswith(".safetensors") for f in files):
        raise ModelNotAvailableError(f"Hugging Face repo {repo_id} has no .safetensors weights (not an MLX model)")
    return tuple(files)


def _load_folder(folder: Path, name: str) -> LoadedLLM:
    import json

    import mlx_lm
    from mlx_lm.utils import _get_classes

    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{folder}: no config.json, not an mlx-lm model folder")
    try:
        config = json.loads(config_path.read_text())
        _get_classes(config)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{config_path}: not valid JSON ({e})") from None
    except KeyError:
        raise ConfigError(f"{config_path}: no model_type, not an mlx-lm model") from None
    except ValueError:
        raise ConfigError(f"{config_path}: model_type {config.get('model_type')!r} is not one that "
                          "mlx-lm can run (update mlx-lm, or choose another model)") from None
    if not any(folder.glob("*.safetensors")):
        raise CheckpointError(f"{folder}: no .safetensors weights (an mlx-lm model folder holds "
                              "model*.safetensors)")
    try:
        model, tokenizer = mlx_lm.load(str(folder))
    except Exception as e:
        raise CheckpointError(f"{folder}: mlx-lm cannot load this model: {type(e).__name__}: {e}") from None
    try:
        tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True)
    except Exception as e:
        raise ConfigError(f"{folder}: the tokenizer has no usable chat template (tokenizer_config.json "
                          f"'chat_template' or chat_template.jinja): {e}") from None
    return LoadedLLM(model, tokenizer, name, False, folder)
