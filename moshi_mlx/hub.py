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
from pathlib import Path
from typing import Callable

from .errors import CheckpointError, ModelNotAvailableError, MoshiError
from .known_models import (GB, KNOWN_MODELS, MIMI_FILE, TOKENIZER_FILE, KnownModel,  # noqa: F401
                           recommend, total_memory)
from .model_folder import ModelFiles, _read_config, folder_files  # noqa: F401 - re-exported

DEMO = "demo"
CHUNK_BYTES = 1 << 20  # cancel is checked and progress reported after each chunk


class DownloadCancelled(MoshiError):
    """The user cancelled a download; what was fetched stays in the cache and will be resumed."""


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


class HubUnavailable(ModelNotAvailableError):
    """The repo cannot be had from the Hub: unreachable, no such repo, or access refused."""


def probe(repo_id: str) -> None:
    """One request to the Hub, without huggingface_hub's retries (which take ~23 s to give up on a
    dead connection): raises HubUnavailable saying what is wrong, or returns when the repo answers."""
    from huggingface_hub import constants, hf_hub_url
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    known = known_model(repo_id)
    if known is not None and known.files:
        method, url = "HEAD", hf_hub_url(repo_id, known.files[0])
    else:
        method, url = "GET", f"{constants.ENDPOINT}/api/models/{repo_id}/tree/main"
    try:
        response = get_session().request(method, url, headers=build_hf_headers(), follow_redirects=False,
                                         timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except Exception as e:  # DNS, refused, timeout...
        raise HubUnavailable(f"the Hugging Face Hub ({constants.ENDPOINT}) cannot be reached to fetch "
                             f"{repo_id} ({type(e).__name__}: {e}); check the connection or HF_ENDPOINT") from None
    try:
        hf_raise_for_status(response)
    except GatedRepoError:
        raise HubUnavailable(_gated_message(repo_id, response.status_code)) from None
    except (RepositoryNotFoundError, HfHubHTTPError) as e:
        if response.status_code in (401, 403) and known is not None and known.gated:
            raise HubUnavailable(_gated_message(repo_id, response.status_code)) from None
        if not isinstance(e, RepositoryNotFoundError) and response.status_code != 404:
            raise HubUnavailable(f"the Hub refused {repo_id} (HTTP {response.status_code}): {e}") from None
        raise HubUnavailable(f"no model repo {repo_id} on the Hugging Face Hub ({constants.ENDPOINT}), or it "
                             "is private (then set HF_TOKEN)") from None


def download(repo_id: str, cache_dir: str | None = None,
             progress: Callable[[int, int], None] | None = None,
             cancel: threading.Event | None = None) -> Path:
    """Fetch a model into the HF cache (resumable, verified, cancellable) and return its snapshot
    folder. `progress(done_bytes, total_bytes)` is called from this thread after every chunk.
    Fails at once (HubUnavailable) when the Hub cannot be reached or has no such repo."""
    if is_installed(repo_id, cache_dir):
        return _snapshot_folder(repo_id, cache_dir)
    if is_offline():
        raise ModelNotAvailableError(f"cannot download {repo_id}: offline mode is on (HF_HUB_OFFLINE); "
                                     "unset it and try again while online")
    probe(repo_id)
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
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status in (401, 403):
            raise ModelNotAvailableError(_gated_message(repo_id, status)) from None
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


def _gated_message(repo_id: str, status: int) -> str:
    from huggingface_hub import constants

    return (f"{repo_id}: the Hugging Face Hub refused the download (HTTP {status}): this model is "
            f"gated. Accept its licence on its page, {constants.ENDPOINT}/{repo_id} (logged in), then "
            "let this program use your access token: set HF_TOKEN=hf_... in the environment, or log "
            "in once with `hf auth login`. Nothing was downloaded.")


def _offline_message(repo_id: str, option: str = "--model") -> str:
    known = known_model(repo_id)
    size = f" ({known.size_bytes / GB:.1f} GB)" if known else ""
    return (f"model {repo_id} is not downloaded and the network is off (HF_HUB_OFFLINE=1 or no "
            f"connection). Download it once while online{size}: `python -m moshi_mlx models "
            f"--download {repo_id}` (or `huggingface-cli download {repo_id}`), or pass a local "
            f"folder with {option}, or use {option} " + ("demo" if option == "--model" else "demo-" + option[2:]))


# ---- resolution ----

def resolve_model(spec: str, cache_dir: str | None = None, allow_download: bool = True,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: threading.Event | None = None, option: str = "--model") -> ModelFiles:
    """`demo`, a local folder (or LM file inside one), or a HF repo id -> ModelFiles. A repo not
    in the cache is downloaded (unless offline or `allow_download` is False). `option`: the
    command-line option the messages name (the assistant's --stt, --tts)."""
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
        raise ModelNotAvailableError(f"{option} {spec!r}: not a folder, not a file, and not a Hugging "
                                     "Face repo id (org/name); known models: "
                                     + ", ".join(m.repo_id for m in KNOWN_MODELS))
    if is_installed(spec, cache_dir):
        return folder_files(_snapshot_folder(spec, cache_dir), name=spec)
    # `org/name` also reads as a relative path: say both readings when neither works
    local = "" if known_model(spec) else (f"{option} {spec!r} is not a local folder or file "
                                          f"({path.absolute()} does not exist); as a Hugging Face repo id: ")
    if not allow_download or is_offline():
        raise ModelNotAvailableError(local + _offline_message(spec, option))
    try:
        return folder_files(download(spec, cache_dir, progress, cancel), name=spec)
    except HubUnavailable as e:
        raise HubUnavailable(local + str(e)) from None


def preview_config(spec: str, cache_dir: str | None = None) -> dict:
    """What is known of a model's config.json without downloading or building anything: a local
    folder's (or an installed repo's) config.json, a demo's metadata, a known repo's kind; {} when
    nothing is known yet (the commands check again once the model is resolved). For refusing a
    model of the wrong kind (moshi_mlx.kinds.check_kind) before any heavy work."""
    from .demo import DEMOS

    if spec in DEMOS:  # never {} ("nothing known"): a demo without model_type is a Moshi one
        from .kinds import DEFAULT_KIND

        return {"model_type": DEFAULT_KIND} | dict(DEMOS[spec].metadata)
    path = Path(spec).expanduser()
    if path.is_dir() or path.is_file():
        return _read_config(path if path.is_dir() else path.parent)
    if spec.count("/") == 1 and is_installed(spec, cache_dir):
        return _read_config(_snapshot_folder(spec, cache_dir))
    known = known_model(spec)
    return {"model_type": known.kind} if known is not None else {}
