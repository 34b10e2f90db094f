"""Models: the known Kyutai MLX repos, the Hugging Face cache, downloads, and `--model` resolution.

`--model` takes a local folder (our form with config.json, Kyutai's MLX form, or Kyutai's PyTorch
form), a Hugging Face repo id, or `demo`. Once a model is in the cache nothing touches the network.

Downloads go through `hf_hub_download` one file at a time with our own `tqdm_class`: the library
calls its `update()` after every chunk it writes, which gives byte progress for free and is the one
place where a cancel flag can be checked between chunks without threads or polling. Raising there
leaves the `.incomplete` file in the cache, so the next download resumes where this one stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm as _base_tqdm

from .errors import CheckpointError, ModelNotAvailableError, MoshiError

DEMO = "demo"
MIMI_FILE = "tokenizer-e351c8d8-checkpoint125.safetensors"
TOKENIZER_FILE = "tokenizer_spm_32k_3.model"
_MIMI_BYTES = 384_600_000
_TOKENIZER_BYTES = 553_000
_LM_FILES = ("model.q4.safetensors", "model.q8.safetensors", "model.safetensors")
GB = 1_000_000_000


class DownloadCancelled(MoshiError):
    """The user cancelled a download; what was fetched stays in the cache and will be resumed."""


@dataclass(frozen=True)
class KnownModel:
    repo_id: str
    label: str
    voice: str
    bits: int
    size_bytes: int
    files: tuple[str, ...]


def _known(voice_name: str, voice: str, bits: int, lm_file: str, lm_bytes: int) -> KnownModel:
    kind = {4: "4-bit", 8: "8-bit", 16: "bf16"}[bits]
    suffix = {4: "q4", 8: "q8", 16: "bf16"}[bits]
    return KnownModel(
        repo_id=f"kyutai/{voice_name}-mlx-{suffix}",
        label=f"{voice_name.capitalize()} 7B, {kind} ({voice} voice)",
        voice=voice, bits=bits, size_bytes=lm_bytes + _MIMI_BYTES + _TOKENIZER_BYTES,
        files=(lm_file, MIMI_FILE, TOKENIZER_FILE))


KNOWN_MODELS: tuple[KnownModel, ...] = tuple(
    _known(name, voice, bits, lm_file, lm_bytes)
    for name, voice in (("moshiko", "male"), ("moshika", "female"))
    for bits, lm_file, lm_bytes in ((4, "model.q4.safetensors", 4_810_000_000),
                                    (8, "model.q8.safetensors", 8_170_000_000),
                                    (16, "model.safetensors", 15_400_000_000)))


@dataclass(frozen=True)
class ModelFiles:
    """Everything the engine loads for one model."""

    lm_path: Path
    mimi_path: Path
    tokenizer_path: Path
    config: dict = field(default_factory=dict)  # the folder's config.json ({} when it has none)
    name: str = ""
    is_demo: bool = False


def known_model(repo_id: str) -> KnownModel | None:
    return next((m for m in KNOWN_MODELS if m.repo_id == repo_id), None)


def is_offline() -> bool:
    """HF_HUB_OFFLINE, read now (huggingface_hub reads it only when first imported)."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return bool(constants.HF_HUB_OFFLINE) or env


# ---- the local cache (never touches the network) ----

def _cached_file(repo_id: str, filename: str, cache_dir: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
    return Path(found) if isinstance(found, str) else None


def _cached_snapshot(repo_id: str, cache_dir: str | None) -> Path | None:
    """The snapshot folder refs/main points to, for repos whose file list we do not know."""
    from huggingface_hub import constants

    root = Path(cache_dir or constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))
    ref = root / "refs" / "main"
    if not ref.is_file():
        return None
    snap = root / "snapshots" / ref.read_text().strip()
    return snap if snap.is_dir() and any(snap.glob("*.safetensors")) else None


def is_installed(repo_id: str, cache_dir: str | None = None) -> bool:
    """True when every file of the model is in the HF cache. Never touches the network."""
    known = known_model(repo_id)
    if known is None:
        return _cached_snapshot(repo_id, cache_dir) is not None
    return all(_cached_file(repo_id, f, cache_dir) is not None for f in known.files)


# ---- downloads ----

def _progress_bar_class(state: dict, progress, cancel):
    """A tqdm class that adds each chunk to the overall count, reports it, and honours `cancel`."""

    class _Bar(_base_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = progress is not None or kwargs.get("disable", False)
            super().__init__(*args, **kwargs)
            if kwargs.get("initial"):  # resumed: these bytes were already on disk
                self._report(kwargs["initial"])

        def _report(self, n):
            state["done"] += n
            if progress is not None:
                progress(int(state["done"]), int(state["total"]))

        def update(self, n=1):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("download cancelled; it will resume where it stopped")
            self._report(n or 0)
            return super().update(n)

    return _Bar


def _repo_files(repo_id: str) -> tuple[str, ...]:
    known = known_model(repo_id)
    if known is not None:
        return known.files
    from huggingface_hub import list_repo_files

    files = [f for f in list_repo_files(repo_id)
             if f.endswith((".safetensors", ".model", ".json")) and "/" not in f]
    if not files:
        raise ModelNotAvailableError(f"Hugging Face repo {repo_id} has no model files")
    return tuple(files)


def _verify(path: Path, size: int | None, etag: str | None, repo_id: str, filename: str) -> None:
    """Size always; content too when the ETag is an LFS sha256 (64 hex digits)."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise CheckpointError(f"{repo_id}/{filename}: {actual} bytes on disk, expected {size}; "
                              "download it again")
    if etag and re.fullmatch(r"[0-9a-f]{64}", etag.strip('"')):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        if digest.hexdigest() != etag.strip('"'):
            Path(os.path.realpath(path)).unlink(missing_ok=True)
            raise CheckpointError(f"{repo_id}/{filename}: sha256 does not match the hub's; the file was "
                                  "deleted, download it again")


def download(repo_id: str, cache_dir: str | None = None,
             progress: Callable[[int, int], None] | None = None,
             cancel: threading.Event | None = None) -> Path:
    """Fetch a model into the HF cache (resumable, verified, cancellable) and return its snapshot
    folder. `progress(done_bytes, total_bytes)` is called from this thread after every chunk."""
    if is_installed(repo_id, cache_dir):
        return _snapshot_folder(repo_id, cache_dir)
    if is_offline():
        raise ModelNotAvailableError(_offline_message(repo_id))
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    try:
        files = _repo_files(repo_id)
        metas = {f: get_hf_file_metadata(hf_hub_url(repo_id, f)) for f in files
                 if _cached_file(repo_id, f, cache_dir) is None}
        state = {"done": 0, "total": sum(m.size or 0 for m in metas.values())}
        if progress is not None:
            progress(0, state["total"])
        bar = _progress_bar_class(state, progress, cancel)
        for f, meta in metas.items():
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("download cancelled")
            path = Path(hf_hub_download(repo_id, f, cache_dir=cache_dir, tqdm_class=bar))
            _verify(path, meta.size, meta.etag, repo_id, f)
    except MoshiError:
        raise
    except Exception as e:  # network, HTTP and hub errors all become one readable message
        raise ModelNotAvailableError(f"cannot download {repo_id}: {type(e).__name__}: {e}") from None
    return _snapshot_folder(repo_id, cache_dir)


def _snapshot_folder(repo_id: str, cache_dir: str | None) -> Path:
    files = _repo_files(repo_id) if known_model(repo_id) else ()
    for f in files:
        found = _cached_file(repo_id, f, cache_dir)
        if found is not None:
            return found.parent
    snap = _cached_snapshot(repo_id, cache_dir)
    if snap is None:
        raise ModelNotAvailableError(_offline_message(repo_id))
    return snap


def _offline_message(repo_id: str) -> str:
    known = known_model(repo_id)
    size = f" ({known.size_bytes / GB:.1f} GB)" if known else ""
    return (f"model {repo_id} is not downloaded and the network is off (HF_HUB_OFFLINE=1 or no "
            f"connection). Download it once while online{size}: `python -m moshi_mlx models "
            f"--download {repo_id}` (or `huggingface-cli download {repo_id}`), or pass a local "
            "folder with --model, or use --model demo")


# ---- resolution ----

def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None


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


def resolve_model(spec: str, cache_dir: str | None = None, allow_download: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> ModelFiles:
    """`demo`, a local folder (or LM file inside one), or a HF repo id -> ModelFiles."""
    if spec == DEMO:
        from .demo import demo_model_dir

        return folder_files(demo_model_dir(cache_dir), name="demo (random weights: produces noise)",
                            is_demo=True)
    path = Path(spec).expanduser()
    if path.is_dir():
        return folder_files(path)
    if path.is_file():
        files = folder_files(path.parent)
        return ModelFiles(path, files.mimi_path, files.tokenizer_path, files.config, str(path))
    if spec.count("/") != 1 or spec.startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"--model {spec!r}: not a folder, not a file, and not a Hugging "
                                     "Face repo id (org/name); known models: "
                                     + ", ".join(m.repo_id for m in KNOWN_MODELS))
    if is_installed(spec, cache_dir):
        return folder_files(_snapshot_folder(spec, cache_dir), name=spec)
    if not allow_download or is_offline():
        raise ModelNotAvailableError(_offline_message(spec))
    return folder_files(download(spec, cache_dir, progress), name=spec)


def total_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def recommend(known: KnownModel, total_memory_bytes: int | None = None) -> tuple[str, str]:
    """('ok'|'tight'|'too_big', a sentence) for running `known` on a machine with this much RAM.
    Apple GPUs may use about 70% of unified memory; the model needs its weights plus ~1.6 GB
    (KV cache at the full 3000-frame context, activations, codec)."""
    total = total_memory_bytes if total_memory_bytes is not None else total_memory()
    need = known.size_bytes + 1_600_000_000
    if total is None:
        return "tight", f"needs about {need / GB:.1f} GB of memory; this machine's size is unknown"
    ram = f"{total / 2**30:.0f} GB"
    if need <= 0.55 * total:
        return "ok", f"fits comfortably in {ram}: needs about {need / GB:.1f} GB"
    if need <= 0.72 * total:
        return "tight", (f"needs about {need / GB:.1f} GB of {ram}: close other apps; "
                         "a smaller (4-bit) model is safer")
    return "too_big", (f"needs about {need / GB:.1f} GB, too much for {ram}; "
                       "choose a 4-bit model or a Mac with more memory")
