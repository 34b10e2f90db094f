"""What goes into the frozen app and what stays out; used by moshi.spec and verify_bundle.py.

PyInstaller's PySide6 hooks collect every plugin of each Qt module used (input methods, Wayland,
GTK themes, SQL drivers, TLS, ...) and all Qt translations. The app needs a platform plugin, the SVG
icon plugins and, on macOS, the native style and the microphone-permission plugin: the rest is
dropped. Plugins must be dropped before PyInstaller's dependency analysis, or the libraries they link
(GTK, Wayland, ...) stay in the bundle: `restrict_qt_plugins` makes the hooks collect only ours.
Model weights never go into the bundle: the app downloads them to the Hugging Face cache.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path, PurePosixPath

# Qt plugin folder -> plugin file stems kept, per sys.platform
QT_PLUGINS: dict[str, dict[str, tuple[str, ...]]] = {
    "darwin": {
        "platforms": ("libqcocoa", "libqoffscreen"),
        "styles": ("libqmacstyle",),
        "imageformats": ("libqsvg",),
        "iconengines": ("libqsvgicon",),
        # QMicrophonePermission's backend, for Qt builds that ship it as a plugin (6.12's wheel does not).
        "permissions": ("libqdarwinmicrophonepermission",),
    },
    # Linux builds exist to test the spec (CI) and for X11 desktops.
    "linux": {
        "platforms": ("libqoffscreen", "libqxcb", "libqminimal"),
        "xcbglintegrations": ("libqxcb-glx-integration", "libqxcb-egl-integration"),
        "imageformats": ("libqsvg",),
        "iconengines": ("libqsvgicon",),
    },
}

# Python packages present in the development environment that the app never imports: the PyTorch
# reference (torch, Kyutai's `moshi`) is a test oracle; the rest are test and notebook tooling.
EXCLUDED_MODULES = (
    "torch", "torchaudio", "torchvision", "moshi", "triton",
    "pytest", "_pytest", "pytestqt", "IPython", "jupyter", "notebook",
    "tkinter", "matplotlib", "tests",
)

# transformers' per-model modules that the app never runs: PyTorch model code (modeling_*, which
# imports torch) and image, video, audio-feature and multimodal processors. The Assistant mode reads
# a chat model's config and tokenizer through transformers (mlx-lm's tokenizer): configuration_*,
# tokenization_* and the `auto` package stay. Their names are read from the installed package's
# folders; PyInstaller's analysis otherwise follows every model of transformers' TYPE_CHECKING
# imports (~2,500 modules, ~40 s of the build).
TRANSFORMERS_UNUSED_PREFIXES = ("modeling_", "image_processing", "video_processing", "feature_extraction",
                                "processing_", "convert_")


def package_folder(name: str) -> Path | None:
    """The folder of the installed top-level package `name`, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def modules_in(package: str) -> list[str]:
    """The modules of a package's folder (`a.b` -> `a.b.x` for a/b/x.py), read from the disk:
    PyInstaller's collect_submodules imports the package in a subprocess, ~20 s for mlx_lm.models."""
    top, *rest = package.split(".")
    folder = package_folder(top)
    if folder is None:
        return []
    return sorted(f"{package}.{f.stem}" for f in folder.joinpath(*rest).glob("*.py") if f.stem != "__init__")


def transformers_unused() -> list[str]:
    """Module names `transformers.models.<model>.<module>` that TRANSFORMERS_UNUSED_PREFIXES names,
    for the installed transformers (none if it is not installed)."""
    folder = package_folder("transformers")
    if folder is None:
        return []
    return sorted(f"transformers.models.{f.parent.name}.{f.stem}" for f in (folder / "models").glob("*/*.py")
                  if f.parent.name != "auto" and f.stem.startswith(TRANSFORMERS_UNUSED_PREFIXES))


MODEL_SUFFIXES = (".safetensors", ".gguf", ".pt", ".pth", ".ckpt")

_QT_PLUGIN_RE = re.compile(r"(^|/)PySide6/Qt/plugins/(?P<folder>[^/]+)/(?P<file>[^/]+)$")
_QT_TRANSLATION_RE = re.compile(r"(^|/)PySide6/Qt/translations/")
_DIST_INFO_RE = re.compile(r"^(?P<name>[^/]+?)-[^/-]+\.dist-info/")


def qt_plugin(dest: str) -> tuple[str, str] | None:
    """(folder, file stem) when `dest` is a Qt plugin inside the bundle, else None."""
    m = _QT_PLUGIN_RE.search(str(PurePosixPath(dest.replace("\\", "/"))))
    if not m:
        return None
    return m["folder"], m["file"].split(".")[0]


def keep(dest: str, platform: str) -> bool:
    """Whether a file with this destination path (relative to the bundle's root) is bundled."""
    dest = dest.replace("\\", "/")
    if dest.lower().endswith(MODEL_SUFFIXES):
        return False
    if _QT_TRANSLATION_RE.search(dest):
        return False
    dist = _DIST_INFO_RE.match(dest)
    if dist and dist["name"].lower().replace("-", "_") in EXCLUDED_MODULES:
        # Hooks copy metadata of optional dependencies (transformers -> torch): without the package
        # itself, that metadata would make libraries believe torch is importable.
        return False
    plugin = qt_plugin(dest)
    if plugin is None:
        return True
    folder, stem = plugin
    return stem in QT_PLUGINS.get(_platform_key(platform), QT_PLUGINS["linux"]).get(folder, ())


def filter_toc(toc, platform: str) -> list:
    """PyInstaller TOC entries (dest, source, typecode) that `keep` accepts."""
    return [entry for entry in toc if keep(entry[0], platform)]


def restrict_qt_plugins(platform: str) -> None:
    """Makes PyInstaller's Qt hooks collect only the plugins `keep` accepts (moshi.spec calls it
    before Analysis). tests/packaging checks the result, so a PyInstaller change cannot go unseen."""
    from PyInstaller.utils.hooks import qt

    collect = qt.QtLibraryInfo.collect_plugins
    if getattr(collect, "moshi_platform", None) == platform:
        return
    collect = getattr(collect, "moshi_original", collect)

    def collect_plugins(self, plugin_type):
        found = collect(self, plugin_type)
        return [(src, dst) for src, dst in found if keep(f"{dst}/{os.path.basename(src)}", platform)]

    collect_plugins.moshi_platform = platform
    collect_plugins.moshi_original = collect
    qt.QtLibraryInfo.collect_plugins = collect_plugins


def _platform_key(platform: str) -> str:
    return "darwin" if platform == "darwin" else "linux"
