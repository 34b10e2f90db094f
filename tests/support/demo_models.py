"""Every demo model built once per test session and copied into the homes tests ask for: a copy
(not a link) keeps each home's files its own, as a home built by `demo_model_dir` would be."""

from __future__ import annotations

import shutil
from pathlib import Path


class DemoModels:
    def __init__(self, root: Path):
        self.root = root
        self._built: dict[str, Path] = {}

    def folder(self, name: str = "demo") -> Path:
        """The session's own build of a demo model (do not write into it)."""
        from moshi_mlx.demo import demo_model_dir

        if name not in self._built:
            self._built[name] = demo_model_dir(self.root, name)
        return self._built[name]

    def home(self, home: Path, *names: str) -> Path:
        """`home` holding the demo models `names` (default: "demo"), as demo_model_dir would make them."""
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        for name in names or ("demo",):
            built = self.folder(name)
            target = home / built.name
            if not target.exists():
                shutil.copytree(built, target, symlinks=True)
        return home
