"""Where the project keeps its own files (demo models, the user's voices and personas)."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """$MOSHI_MLX_HOME or ~/.cache/moshi-mlx."""
    env = os.environ.get("MOSHI_MLX_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "moshi-mlx"


def build_folder_once(final: Path, build, prefix: str = ".moshi-demo-") -> Path:
    """`final` made by `build(tmp)` in a temporary folder beside it, renamed into place (another
    process that finished first keeps its copy; nothing half-built is ever seen under `final`).
    A home folder that cannot be written is one line saying to set MOSHI_MLX_HOME."""
    import shutil
    import tempfile

    root = final.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    except OSError as e:
        from .errors import MoshiError

        why = "is a file, not a folder" if root.exists() and not root.is_dir() else \
            f"cannot write there ({e.strerror or e})"
        raise MoshiError(f"the demo models' folder {root} {why}: set MOSHI_MLX_HOME to a writable "
                         "folder") from None
    try:
        build(tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first: keep theirs
            if not (final / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
