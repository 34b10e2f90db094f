"""PersonaPlex's voices follow the converted model: NVIDIA's `voices.tgz` beside the source LM
becomes `voices/NAME.safetensors` in the output folder (read without unpickling code, see
moshi_mlx/personas/nvidia.py), listed in the manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path


def convert_voices(source_folder: Path, out_folder: Path) -> dict[str, tuple[int, str]]:
    """{"voices/NAME.safetensors": (size, sha256)} of the voices written (none without voices.tgz)."""
    from moshi_mlx.personas.nvidia import ARCHIVE, convert_archive

    archive = Path(source_folder) / ARCHIVE
    if not archive.is_file():
        return {}
    out = Path(out_folder) / "voices"
    out.mkdir()
    return {f"voices/{p.name}": (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in convert_archive(archive, out)}
