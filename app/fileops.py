"""Writing files the safe way: into a temporary file beside the target, then renamed over it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def _temporary(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.tmp")


def atomic_copy(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    dst = Path(dst)
    tmp = _temporary(dst)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return dst


def atomic_text(dst: str | os.PathLike, text: str) -> Path:
    dst = Path(dst)
    tmp = _temporary(dst)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, dst)
    return dst
