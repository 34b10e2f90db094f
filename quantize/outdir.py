"""The output folder appears whole or not at all: everything is written into a temporary folder next
to it, renamed into place at the end, and removed on any failure, cancel or Ctrl-C."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Callable

from moshi_mlx import partial
from moshi_mlx.errors import CheckpointError, MoshiError
from moshi_mlx.interrupts import deferred_interrupts
from moshi_mlx.partial import Partial, remove_stale

MANIFEST = "manifest.json"
_CHUNK = 8 << 20


class ConversionCancelled(MoshiError):
    """The caller set the cancel event: nothing was written."""


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ConversionCancelled("conversion cancelled: no output was written")


OLD_TAG = ".moshi-old-"  # holds a replaced output folder (as _REPLACED) until the new one is in place
_REPLACED = "replaced"


def check_output(output: Path, force: bool) -> Path:
    """Refuses an existing output without `force`, and with `force` replaces only a folder that this
    tool provably wrote (see `written_by_us`): a typo must never wipe anything else."""
    output = Path(output).expanduser().absolute()
    recover_replaced(output)
    if output.exists() or output.is_symlink():
        if not force:
            raise CheckpointError(f"{output}: already exists (use --force to replace it)")
        if not output.is_dir() or output.is_symlink():
            raise CheckpointError(f"{output}: exists and is not a folder; not replacing it")
        why = written_by_us(output)
        if why:
            raise CheckpointError(f"{output}: exists and is not a moshi-quantize output ({why}); "
                                  "not replacing it: remove it yourself or choose another -o")
    return output


def written_by_us(folder: Path) -> str | None:
    """None when `folder` is empty or exactly what this tool writes: its manifest.json, made by
    moshi-quantize, listing every other file with its size, and nothing else. Otherwise the reason.
    (Sizes, not sha256: re-hashing gigabytes to decide a replace would take minutes.)"""
    entries = {p.name: p for p in folder.iterdir()}
    if not entries:
        return None
    if MANIFEST not in entries:
        return f"no {MANIFEST}"
    try:
        manifest = json.loads(entries.pop(MANIFEST).read_text())
        files = manifest["files"]
        ours = str(manifest["created_by"]).startswith("moshi-quantize")
        sizes = {str(name): int(entry["size"]) for name, entry in files.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return f"{MANIFEST} is not one of ours"
    if not ours:
        return f"{MANIFEST} was not written by moshi-quantize"
    extra = sorted(set(entries) - set(sizes))
    if extra:
        return f"it also holds {', '.join(extra[:3])}" + (", ..." if len(extra) > 3 else "")
    for name, size in sizes.items():
        path = entries.get(name)
        if path is None or not path.is_file() or path.is_symlink() or path.stat().st_size != size:
            return f"{name} is missing or differs from {MANIFEST}"
    return None


def recover_replaced(output: Path) -> None:
    """Finishes a replace that was cut short (power cut, SIGKILL between its two renames): a
    replaced folder that no process holds goes back into place when `output` is missing, and is
    deleted when the new output is there. Abandoned partial folders are deleted."""
    parent = output.parent
    if not parent.is_dir():
        return
    remove_stale(parent)
    for old in sorted(parent.glob(f".{glob.escape(output.name)}{OLD_TAG}*")):
        if not partial.is_abandoned(old):
            continue
        replaced = old / _REPLACED
        if replaced.is_dir() and not (output.exists() or output.is_symlink()):
            try:
                os.rename(replaced, output)
            except OSError as e:
                raise CheckpointError(f"{output}: a replace was cut short and the previous output, "
                                      f"kept in {replaced}, cannot be put back ({e.strerror or e})") from None
        shutil.rmtree(old, ignore_errors=True)


class Staging:
    """`with Staging(output, force) as tmp:` write into tmp; `commit()` renames it into place."""

    def __init__(self, output: Path, force: bool):
        self.output = check_output(output, force)
        self.force = force
        self._partial: Partial | None = None

    @property
    def path(self) -> Path | None:
        return self._partial.path if self._partial is not None else None

    def __enter__(self) -> Path:
        try:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self._partial = Partial(self.output, folder=True)
        except OSError as e:
            raise CheckpointError(f"{self.output}: cannot write the output folder there "
                                  f"({e.strerror or e})") from None
        return self._partial.path

    def commit(self) -> None:
        """Renames the finished folder into place. A replaced output is first renamed aside (kept
        locked), so a cut between the two renames is undone by the next run (recover_replaced);
        stop requests wait until both renames are done."""
        assert self._partial is not None
        with deferred_interrupts():
            old = None
            if self.output.exists():
                check_output(self.output, self.force)
                old = Partial(self.output, folder=True, kind=OLD_TAG)
                os.rename(self.output, old.path / _REPLACED)  # keeps the lock
            try:
                os.rename(self._partial.path, self.output)
            except BaseException:
                if old is not None:
                    os.rename(old.path / _REPLACED, self.output)
                    old.discard()
                raise
            self._partial.release()
            self._partial = None
            if old is not None:
                old.discard()

    def __exit__(self, *exc) -> None:
        if self._partial is not None:
            self._partial.discard()
            self._partial = None


def copy_file(src: Path, dst: Path, advance: Callable[[int], None],
              cancel: threading.Event | None) -> tuple[int, str]:
    """Copies in chunks (cancel checked between them); returns (size, sha256)."""
    h = hashlib.sha256()
    size = 0
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            while chunk := fin.read(_CHUNK):
                check_cancel(cancel)
                fout.write(chunk)
                h.update(chunk)
                size += len(chunk)
                advance(len(chunk))
            fout.flush()
            os.fsync(fout.fileno())
    except OSError as e:
        raise CheckpointError(f"copying {src} to {dst}: {e.strerror or e}") from None
    return size, h.hexdigest()


def write_json(path: Path, data: dict) -> tuple[int, str]:
    raw = (json.dumps(data, indent=2) + "\n").encode()
    path.write_bytes(raw)
    return len(raw), hashlib.sha256(raw).hexdigest()


def write_manifest(folder: Path, files: dict[str, tuple[int, str]], tool: str) -> None:
    """manifest.json: size and sha256 of every other file in the folder."""
    write_json(folder / MANIFEST, {
        "created_by": tool,
        "files": {name: {"size": size, "sha256": sha} for name, (size, sha) in sorted(files.items())},
    })


def verify_manifest(folder: Path) -> list[str]:
    """Problems found when re-hashing a folder against its manifest ([] = all good)."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return [f"{folder / MANIFEST}: unreadable ({e})"]
    problems = []
    for name, entry in manifest.get("files", {}).items():
        path = Path(folder) / name
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        if path.stat().st_size != entry["size"] or h.hexdigest() != entry["sha256"]:
            problems.append(f"{path}: size or sha256 differs from the manifest")
    return problems
