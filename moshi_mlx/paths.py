"""Where the project keeps its own files (demo models, the user's voices and personas)."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """$MOSHI_MLX_HOME or ~/.cache/moshi-mlx."""
    env = os.environ.get("MOSHI_MLX_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "moshi-mlx"
