"""The output folder appears whole or not at all: everything is written into a temporary folder next
to it, renamed into place at the end, and removed on any failure, cancel or Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable

from moshi_mlx.errors import CheckpointError, MoshiError

MANIFEST = "manifest.json"
_CHUNK = 8 << 20


class ConversionCancelled(MoshiError):
    """The caller set the cancel event: nothing was written."""


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ConversionCancelled("conversion cancelled: no output was written")


def check_output(output: Path, force: bool) -> Path:
    """Refuses an existing output without `force`, and never replaces something that is not a
    model folder (a typo must not wipe a home directory)."""
    output = Path(output).expanduser().absolute()
    if output.exists() or output.is_symlink():
        if not force:
            raise CheckpointError(f"{output}: already exists (use --force to replace it)")
        if not output.is_dir() or output.is_symlink():
            raise CheckpointError(f"{output}: exists and is not a folder; not replacing it")
        entries = list(output.iterdir())
        if entries and not (output / MANIFEST).is_file():
            raise CheckpointError(f"{output}: exists and is not a moshi-quantize output (no {MANIFEST}); "
                                  "not replacing it, remove it yourself")
    return output


class Staging:
    """`with Staging(output, force) as tmp:` write into tmp; `commit()` renames it into place."""

    def __init__(self, output: Path, force: bool):
        self.output = check_output(output, force)
        self.force = force
        self.path: Path | None = None

    def __enter__(self) -> Path:
        parent = self.output.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.partial-", dir=parent))
        except OSError as e:
            raise CheckpointError(f"{self.output}: cannot write the output folder there "
                                  f"({e.strerror or e})") from None
        return self.path

    def commit(self) -> None:
        assert self.path is not None
        old = None
        if self.output.exists():
            check_output(self.output, self.force)
            old = Path(tempfile.mkdtemp(prefix=f".{self.output.name}.old-", dir=self.output.parent))
            os.rename(self.output, old / "x")
        os.rename(self.path, self.output)
        self.path = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


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
