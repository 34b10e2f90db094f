"""Models: the known Kyutai MLX repos, the Hugging Face cache, downloads, and `--model` resolution.

`--model` takes a local folder (our form with config.json, Kyutai's MLX form, or Kyutai's PyTorch
form), a Hugging Face repo id, or `demo`. Once a model is in the cache nothing touches the network.

Downloads: huggingface_hub asks the hub for each file's metadata (size, commit, ETag = sha256 for
LFS files), then we stream the file ourselves through huggingface_hub's HTTP session into the
standard cache layout. We do the transfer ourselves because huggingface_hub 2.x deletes partial
files on any interruption (no resume), while a 5-15 GB model must survive a cancel or a dropped
connection: our `blobs/<etag>.partial` is resumed with a Range request. The cancel flag is checked
between 1 MiB chunks on the downloading thread (no polling, no extra thread); progress is reported
after every chunk; each file is verified (size, and sha256 against the ETag) before it is moved in.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import CheckpointError, ModelNotAvailableError, MoshiError
from .jsonfile import read_json_object

DEMO = "demo"
MIMI_FILE = "tokenizer-e351c8d8-checkpoint125.safetensors"
TOKENIZER_FILE = "tokenizer_spm_32k_3.model"
_MIMI_BYTES = 384_600_000
_TOKENIZER_BYTES = 553_000
_LM_FILES = ("model.q4.safetensors", "model.q8.safetensors", "model.safetensors")
GB = 1_000_000_000
CHUNK_BYTES = 1 << 20  # cancel is checked and progress reported after each chunk


class DownloadCancelled(MoshiError):
    """The user cancelled a download; what was fetched stays in the cache and will be resumed."""


@dataclass(frozen=True)
class KnownModel:
    repo_id: str
    label: str
    voice: str
    bits: int
    size_bytes: int
    files: tuple[str, ...]  # () = whatever model files the repo holds (listed at download time)
    kind: str = "moshi"  # moshi_mlx.kinds: what the model does (its config.json model_type)
    runtime_bytes: int = 1_600_000_000  # memory beyond the weights: KV cache, activations, codec
    gated: bool = False  # the Hub wants the licence accepted and a token (HF_TOKEN)


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

_MIMI_PT = "mimi-pytorch-e351c8d8@125.safetensors"


def _family(repo_id: str, kind: str, label: str, lm_bytes: int, files: tuple[str, ...] = (),
            runtime_bytes: int = 600_000_000, bits: int = 16, gated: bool = False) -> KnownModel:
    return KnownModel(repo_id, label, "-", bits, lm_bytes + _MIMI_BYTES + _TOKENIZER_BYTES, files,
                      kind, runtime_bytes, gated)


# The rest of the family (bf16 releases; sizes of the LM files from their Hub listings).
KNOWN_MODELS += (
    _family("kyutai/stt-1b-en_fr", "stt", "Kyutai STT 1B, English + French", 1_978_423_520,
            ("config.json", "model.safetensors", _MIMI_PT, "tokenizer_en_fr_audio_8000.model")),
    _family("kyutai/stt-1b-en_fr-candle", "stt", "Kyutai STT 1B, English + French, with end-of-turn "
            "detection", 1_978_522_200,
            ("config.json", "model.safetensors", _MIMI_PT, "tokenizer_en_fr_audio_8000.model")),
    _family("kyutai/stt-2.6b-en", "stt", "Kyutai STT 2.6B, English", 5_234_275_128,
            ("config.json", "model.safetensors", _MIMI_PT, "tokenizer_en_audio_4000.model")),
    _family("kyutai/hibiki-1b-pytorch-bf16", "hibiki", "Hibiki 1B, French to English", 3_600_000_000,
            ("config.json", "hibikim-pytorch-37c6cfd6@200.safetensors", _MIMI_PT,
             "tokenizer_spm_48k_multi6_2.model")),
    _family("kyutai/hibiki-2b-pytorch-bf16", "hibiki", "Hibiki 2B, French to English", 5_574_762_720,
            ("config.json", "hibiki-pytorch-ccef4858@200.safetensors", _MIMI_PT,
             "tokenizer_spm_48k_multi6_2.model"), runtime_bytes=1_200_000_000),
    _family("kyutai/hibiki-zero-3b-pytorch-bf16", "hibiki", "Hibiki-Zero 3B, French/Spanish/"
            "Portuguese/German to English", 6_263_000_000, runtime_bytes=1_200_000_000),
    _family("kyutai/tts-1.6b-en_fr", "tts", "Kyutai TTS 1.6B, English + French", 3_683_719_712,
            ("config.json", "dsm_tts_1e68beda@240.safetensors", MIMI_FILE,
             "tokenizer_spm_8k_en_fr_audio.model")),
    _family("kyutai/tts-0.75b-en-public", "tts", "Kyutai TTS 0.75B, English (public data)",
            1_560_040_168, ("config.json", "dsm_tts_d6ef30c7@1000.safetensors", MIMI_FILE,
                            "tokenizer_spm_8k_en_fr_audio.model")),
    _family("nvidia/personaplex-7b-v1", "personaplex", "PersonaPlex 7B (NVIDIA), voices and roles",
            16_742_874_000, ("config.json", "model.safetensors", MIMI_FILE, TOKENIZER_FILE),
            runtime_bytes=1_600_000_000, gated=True),
)


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
    if known is None or not known.files:
        return _cached_snapshot(repo_id, cache_dir) is not None
    return all(_cached_file(repo_id, f, cache_dir) is not None for f in known.files)


# ---- downloads ----

def _repo_files(repo_id: str) -> tuple[str, ...]:
    known = known_model(repo_id)
    if known is not None and known.files:
        return known.files
    from huggingface_hub import HfApi, constants

    files = [f for f in HfApi(endpoint=constants.ENDPOINT).list_repo_files(repo_id)
             if f.endswith((".safetensors", ".model", ".json")) and "/" not in f]
    if not files:
        raise ModelNotAvailableError(f"Hugging Face repo {repo_id} has no model files")
    return tuple(files)


def _normalize_etag(etag: str | None) -> str:
    return (etag or "").removeprefix("W/").strip('"')


def _verify(path: Path, size: int | None, etag: str, repo_id: str, filename: str) -> None:
    """Size always; content too when the ETag is an LFS sha256 (64 hex digits)."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        path.unlink(missing_ok=True)
        raise CheckpointError(f"{repo_id}/{filename}: {actual} bytes downloaded, expected {size}; "
                              "the partial file was deleted, download it again")
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        if digest.hexdigest() != etag:
            path.unlink(missing_ok=True)
            raise CheckpointError(f"{repo_id}/{filename}: sha256 does not match the hub's; the file was "
                                  "deleted, download it again")


def _repo_cache(repo_id: str, cache_dir: str | None) -> Path:
    from huggingface_hub import constants

    return Path(cache_dir or constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))


def _fetch(repo_id: str, filename: str, meta, cache_dir: str | None, report, cancel) -> None:
    """Download one file into the hub cache layout (blobs/<etag>, snapshots/<commit>/<name>,
    refs/main), resuming `blobs/<etag>.partial` with an HTTP Range request."""
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    root = _repo_cache(repo_id, cache_dir)
    etag = _normalize_etag(meta.etag)
    if not etag or not meta.commit_hash:
        raise ModelNotAvailableError(f"{repo_id}/{filename}: the hub sent no ETag/commit for it")
    blob = root / "blobs" / etag
    blob.parent.mkdir(parents=True, exist_ok=True)
    if not blob.exists():
        part = blob.with_name(etag + ".partial")
        start = part.stat().st_size if part.exists() else 0
        if meta.size is not None and start > meta.size:
            start = 0
        headers = build_hf_headers()
        if start:
            headers["Range"] = f"bytes={start}-"
        with get_session().stream("GET", meta.location, headers=headers, follow_redirects=True,
                                  timeout=30) as response:
            hf_raise_for_status(response)
            if start and response.status_code != 206:  # the server ignored the Range: start over
                start = 0
            if start:
                report(start)
            with open(part, "ab" if start else "wb") as f:
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    if cancel is not None and cancel.is_set():
                        raise DownloadCancelled(f"download of {repo_id} cancelled; it will resume "
                                                "where it stopped")
                    f.write(chunk)
                    report(len(chunk))
        _verify(part, meta.size, etag, repo_id, filename)
        os.replace(part, blob)
    snap = root / "snapshots" / meta.commit_hash / filename
    snap.parent.mkdir(parents=True, exist_ok=True)
    if not snap.exists():
        try:
            snap.symlink_to(os.path.relpath(blob, snap.parent))
        except OSError:  # no symlinks (some Windows setups): copy, as huggingface_hub does
            shutil.copyfile(blob, snap)
    ref = root / "refs" / "main"
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp = ref.with_name(".main.tmp")
    tmp.write_text(meta.commit_hash)
    os.replace(tmp, ref)


def download(repo_id: str, cache_dir: str | None = None,
             progress: Callable[[int, int], None] | None = None,
             cancel: threading.Event | None = None) -> Path:
    """Fetch a model into the HF cache (resumable, verified, cancellable) and return its snapshot
    folder. `progress(done_bytes, total_bytes)` is called from this thread after every chunk."""
    if is_installed(repo_id, cache_dir):
        return _snapshot_folder(repo_id, cache_dir)
    if is_offline():
        raise ModelNotAvailableError(_offline_message(repo_id))
    _transfer(repo_id, lambda: _repo_files(repo_id), cache_dir, progress, cancel)
    return _snapshot_folder(repo_id, cache_dir)


class NotOnHubError(ModelNotAvailableError):
    """The repo has no file of that name."""


def download_file(repo_id: str, filename: str, cache_dir: str | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: threading.Event | None = None) -> Path:
    """One file of a repo (a voice, ...) into the HF cache, as `download` does (resumable,
    verified, cancellable); the cached copy when there is one, without touching the network."""
    found = _cached_file(repo_id, filename, cache_dir)
    if found is not None:
        return found
    if is_offline():
        raise ModelNotAvailableError(f"{repo_id}/{filename} is not downloaded and the network is off "
                                     "(HF_HUB_OFFLINE=1 or no connection): download it once while online")
    _transfer(repo_id, lambda: (filename,), cache_dir, progress, cancel)
    found = _cached_file(repo_id, filename, cache_dir)
    if found is None:
        raise ModelNotAvailableError(f"{repo_id}/{filename}: downloaded but not found in the cache")
    return found


def _transfer(repo_id: str, files: Callable[[], tuple[str, ...]], cache_dir: str | None,
              progress: Callable[[int, int], None] | None, cancel: threading.Event | None) -> None:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError

    try:
        metas = {}
        for f in files():
            if _cached_file(repo_id, f, cache_dir) is None:
                try:
                    metas[f] = get_hf_file_metadata(hf_hub_url(repo_id, f))
                except EntryNotFoundError:
                    raise NotOnHubError(f"{repo_id} has no file {f}") from None
        done, total = 0, sum(m.size or 0 for m in metas.values())

        def report(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        report(0)
        for f, meta in metas.items():
            _fetch(repo_id, f, meta, cache_dir, report, cancel)
    except MoshiError:
        raise
    except Exception as e:  # network, HTTP and hub errors all become one readable message
        raise ModelNotAvailableError(f"cannot download {repo_id}: {type(e).__name__}: {e}") from None


def _snapshot_folder(repo_id: str, cache_dir: str | None) -> Path:
    known = known_model(repo_id)
    files = known.files if known is not None else ()
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


def resolve_model(spec: str, cache_dir: str | None = None, allow_download: bool = True,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: threading.Event | None = None) -> ModelFiles:
    """`demo`, a local folder (or LM file inside one), or a HF repo id -> ModelFiles. A repo not
    in the cache is downloaded (unless offline or `allow_download` is False)."""
    from .demo import DEMOS, demo_model_dir

    if spec in DEMOS:
        return folder_files(demo_model_dir(cache_dir, spec), name=f"{spec} (random weights: produces noise)",
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
    return folder_files(download(spec, cache_dir, progress, cancel), name=spec)


def total_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def recommend(known: KnownModel, total_memory_bytes: int | None = None) -> tuple[str, str]:
    """('ok'|'tight'|'too_big', a sentence) for running `known` on a machine with this much RAM.
    Apple GPUs may use about 70% of unified memory; the model needs its weights plus its runtime
    memory (Moshi 7B: ~1.6 GB of KV cache at the full 3000-frame context, activations, codec)."""
    total = total_memory_bytes if total_memory_bytes is not None else total_memory()
    need = known.size_bytes + known.runtime_bytes
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
