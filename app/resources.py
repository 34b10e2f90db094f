"""The app's bundled files: looked up in the frozen bundle first, then in the source checkout."""

from __future__ import annotations

import sys
from pathlib import Path

ICON_NAMES = ("icon.svg", "icon.png", "icon.icns")


def _search_dirs() -> list[Path]:
    dirs = []
    bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller unpack folder
    if bundle:
        dirs += [Path(bundle) / "assets", Path(bundle)]
    here = Path(__file__).resolve().parent
    dirs += [here / "resources", here.parent / "assets"]
    return dirs


def icon_path() -> Path | None:
    """The app icon file, or None when no copy is found (the app then runs without one)."""
    for d in _search_dirs():
        for name in ICON_NAMES:
            if (d / name).is_file():
                return d / name
    return None


def app_icon():
    """The icon as a QIcon (an empty QIcon when absent)."""
    from PySide6.QtGui import QIcon

    path = icon_path()
    return QIcon(str(path)) if path else QIcon()
