"""Cheap completeness checks of files the project itself wrote (its cached demo models): a
safetensors file is whole when its size is what its header declares."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path


def safetensors_problem(path: str | os.PathLike) -> str | None:
    """None for a whole safetensors file, else what is wrong (reads the header only)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                return "shorter than a safetensors header"
            (n,) = struct.unpack("<Q", raw)
            if n > min(size - 8, 100 << 20):
                return "truncated (header)"
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        return f"unreadable ({e})"
    end = max((int(v["data_offsets"][1]) for k, v in header.items()
               if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v), default=0)
    if size < 8 + n + end:
        return f"truncated ({size} bytes of {8 + n + end})"
    return None


def folder_problem(folder: str | os.PathLike) -> str | None:
    """None when `folder` holds a config.json and only whole safetensors files."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        return "no config.json"
    for path in sorted(folder.glob("*.safetensors")):
        problem = safetensors_problem(path)
        if problem:
            return f"{path.name}: {problem}"
    return None
