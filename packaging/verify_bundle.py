"""Checks a built app: Moshi.app (macOS) or the one-folder dist/Moshi (Linux).

What must be inside: the whole mlx package (core extension, libmlx and, on macOS, mlx.metallib next
to libmlx.dylib), rustymimi, our packages, the Qt platform and SVG plugins, the icon source. What
must not: other Qt plugins, Qt translations, model weights, the PyTorch reference. On macOS also the
Info.plist keys, the .icns and an arm64-only executable.

    python packaging/verify_bundle.py dist/Moshi.app     # exit 1 and one line per problem
"""

from __future__ import annotations

import argparse
import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import bundle_contents
import bundle_info

# Modules the frozen app must contain (in its PYZ archive).
REQUIRED_MODULES = ("moshi_app.main", "moshi_mlx.selftest", "mlx", "mlx.nn", "rustymimi", "PySide6")


@dataclass
class Report:
    app: Path
    size_bytes: int = 0
    files: set[str] = field(default_factory=set)  # paths relative to the bundle's code/data roots
    modules: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


def layout(app: Path, platform: str) -> tuple[Path, list[Path]]:
    """(executable, roots holding the collected files) of a built app."""
    if platform == "darwin":
        contents = app / "Contents"
        return contents / "MacOS" / bundle_info.APP_NAME, [contents / "Frameworks", contents / "Resources"]
    return app / bundle_info.APP_NAME, [app / "_internal"]


def bundle_files(roots: list[Path]) -> set[str]:
    """Relative paths of the files and links under the roots."""
    names = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                names.add(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    return names


def tree_size(path: Path) -> int:
    """Bytes of the regular files under path (links not followed): what the bundle takes on disk."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def archived_modules(exe: Path) -> set[str]:
    """Module names in the executable's PYZ archive."""
    from PyInstaller.archive.readers import CArchiveReader

    return set(CArchiveReader(str(exe)).open_embedded_archive("PYZ.pyz").toc)


def check(app: str | os.PathLike, platform: str = sys.platform) -> Report:
    app = Path(app)
    exe, roots = layout(app, platform)
    report = Report(app)
    problem = report.problems.append
    if not exe.is_file() or not os.access(exe, os.X_OK):
        problem(f"{exe}: no executable")
        return report
    report.files = files = bundle_files(roots)
    report.size_bytes = tree_size(app)

    ext = ".dylib" if platform == "darwin" else ".so"
    if not any(f.startswith("mlx/core.") and f.endswith(".so") for f in files):
        problem("mlx: core extension missing")
    if f"mlx/lib/libmlx{ext}" not in files:
        problem(f"mlx: lib/libmlx{ext} missing")
    if platform == "darwin":
        metallib = roots[0] / "mlx" / "lib" / "mlx.metallib"
        if not metallib.exists():  # MLX looks beside the dylib it was loaded from
            problem(f"mlx: {metallib} missing: Metal kernels would not load")
    if not any(f.startswith("rustymimi/rustymimi.") for f in files):
        problem("rustymimi: extension missing")
    if "sentencepiece/package_data/nmt_nfkc.bin" not in files:
        problem("sentencepiece/package_data missing: the demo tokenizer cannot be trained")
    if "assets/icon.svg" not in files:
        problem("assets/icon.svg missing (the window icon)")

    kept = bundle_contents.QT_PLUGINS[bundle_contents._platform_key(platform)]
    plugins = {bundle_contents.qt_plugin(f) for f in files} - {None}
    for folder, stem in sorted(plugins):
        if stem not in kept.get(folder, ()):
            problem(f"Qt plugin {folder}/{stem} should not be bundled")
    needed = {("platforms", "libqcocoa" if platform == "darwin" else "libqoffscreen"),
              ("imageformats", "libqsvg"), ("iconengines", "libqsvgicon")}
    for folder, stem in sorted(needed - plugins):
        problem(f"Qt plugin {folder}/{stem} missing")
    unwanted: dict[str, list[str]] = {}
    for f in sorted(files):
        if not bundle_contents.keep(f, platform) and bundle_contents.qt_plugin(f) is None:
            unwanted.setdefault(f.split("/")[0], []).append(f)
    for folder, names in unwanted.items():
        problem(f"{names[0]} (+{len(names) - 1} more in {folder}): model weights, Qt translations "
                "or metadata of an excluded package should not be bundled")

    report.modules = archived_modules(exe)
    for name in REQUIRED_MODULES:
        if name not in report.modules:
            problem(f"module {name} missing from the archive")
    for name in sorted(report.modules):
        if name.split(".")[0] in bundle_contents.EXCLUDED_MODULES:
            problem(f"module {name} is bundled but excluded ({name.split('.')[0]})")
            break

    if platform == "darwin":
        _check_macos(app, exe, problem)
    return report


def _check_macos(app: Path, exe: Path, problem) -> None:
    with open(app / "Contents" / "Info.plist", "rb") as f:
        plist = plistlib.load(f)
    for key, value in bundle_info.info_plist().items():
        if plist.get(key) != value:
            problem(f"Info.plist {key} = {plist.get(key)!r}, expected {value!r}")
    if not (app / "Contents" / "Resources" / plist.get("CFBundleIconFile", "?")).is_file():
        problem("Info.plist CFBundleIconFile names no file in Contents/Resources")
    lipo = shutil.which("lipo")
    if lipo:
        archs = subprocess.run([lipo, "-archs", str(exe)], capture_output=True, text=True).stdout.split()
        if archs != ["arm64"]:
            problem(f"{exe}: architectures {archs}, expected arm64 only")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verify_bundle.py", description=__doc__.splitlines()[0])
    parser.add_argument("app", type=Path, help="dist/Moshi.app or dist/Moshi")
    parser.add_argument("--platform", default=sys.platform, help="layout to expect (default: this one)")
    args = parser.parse_args(argv)
    report = check(args.app, args.platform)
    for line in report.problems:
        print(f"problem: {line}", file=sys.stderr)
    status = "OK" if not report.problems else f"{len(report.problems)} problem(s)"
    print(f"{args.app}: {report.size_mb:.0f} MB, {len(report.files)} files, "
          f"{len(report.modules)} modules: {status}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
