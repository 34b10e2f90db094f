"""What the macOS bundle declares: identity, Info.plist and hardened-runtime entitlements.

Read by the PyInstaller spec (moshi.spec), build.sh and the tests; imports nothing heavy.

    python packaging/bundle_info.py info-plist OUT.plist
    python packaging/bundle_info.py entitlements OUT.plist
    python packaging/bundle_info.py version
"""

from __future__ import annotations

import argparse
import os
import plistlib
import re
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from moshi_mlx.errors import MoshiError

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
ENTITLEMENTS_FILE = Path(__file__).resolve().parent / "entitlements.plist"

APP_NAME = "Moshi"
# Also the folder name of the app's data: ~/Library/Application Support/org.moshimlx.desktop/
BUNDLE_ID = "org.moshimlx.desktop"
# MLX ships macOS >= 14 wheels for Apple Silicon only (Metal 3.1 features): nothing older can run it.
MIN_MACOS = "14.0"
MIC_USAGE = (
    "Moshi listens to your microphone so that you can talk with it. "
    "Your voice is processed on this Mac and never leaves it."
)


def project_version(pyproject: str | os.PathLike = PYPROJECT) -> str:
    """[project].version of pyproject.toml."""
    path = Path(pyproject)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise MoshiError(f"{path}: cannot read the project version ({e})") from e
    version = data.get("project", {}).get("version")
    if not isinstance(version, str) or not re.fullmatch(r"\d+(\.\d+){0,2}", version):
        # CFBundleShortVersionString allows only up to three integers separated by dots.
        raise MoshiError(f"{path}: [project].version must look like 1.2.3 for macOS, got {version!r}")
    return version


def info_plist(version: str | None = None) -> dict:
    """The Info.plist keys of Moshi.app (PyInstaller's BUNDLE merges them over its defaults)."""
    version = version or project_version()
    return {
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleExecutable": APP_NAME,
        "CFBundleIconFile": f"{APP_NAME}.icns",
        "CFBundlePackageType": "APPL",
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundleDevelopmentRegion": "en",
        "LSApplicationCategoryType": "public.app-category.productivity",
        "LSMinimumSystemVersion": MIN_MACOS,
        # Apple Silicon only: never offer Rosetta (MLX has no x86 Metal build).
        "LSArchitecturePriority": ["arm64"],
        "LSRequiresNativeExecution": True,
        "NSMicrophoneUsageDescription": MIC_USAGE,
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,  # follow the system's dark/light mode
        "NSPrincipalClass": "NSApplication",
        "NSHumanReadableCopyright": "Moshi model and Mimi codec by Kyutai; app under the MIT license.",
    }


def entitlements() -> dict:
    """Hardened-runtime entitlements: the minimum a bundled Python with PortAudio needs."""
    return {
        # Without it the hardened runtime hands the app silent (all-zero) microphone buffers.
        "com.apple.security.device.audio-input": True,
        # sounddevice's stream callback is a cffi ABI-mode `ffi.callback`, whose trampoline is
        # written to memory at run time; cffi documents this entitlement for it on macOS.
        "com.apple.security.cs.allow-unsigned-executable-memory": True,
        # Not requested: disable-library-validation (every bundled binary is signed with the same
        # identity by PyInstaller), allow-jit (nothing JIT-compiles CPU code; MLX compiles Metal
        # kernels on the GPU), allow-dyld-environment-variables, network entitlements (not sandboxed).
    }


def mlx_min_macos() -> str | None:
    """The macOS the installed MLX needs: for each of its wheels (mlx, and mlx-metal holding libmlx
    and mlx.metallib) the lowest macOS tag; the highest of those. None off macOS."""
    needs = []
    for dist in ("mlx", "mlx-metal"):
        try:
            wheel = metadata.distribution(dist).read_text("WHEEL") or ""
        except metadata.PackageNotFoundError:
            continue
        tags = re.findall(r"^Tag: .*-macosx_(\d+)_(\d+)_\w+$", wheel, flags=re.M)
        if tags:
            needs.append(min((int(major), int(minor)) for major, minor in tags))
    return "%d.%d" % max(needs) if needs else None


def check_min_macos() -> None:
    """Fails when the installed mlx needs a newer macOS than LSMinimumSystemVersion."""
    needed = mlx_min_macos()
    if needed and _as_tuple(needed) > _as_tuple(MIN_MACOS):
        raise MoshiError(
            f"the installed mlx wheel needs macOS {needed}, but bundle_info.MIN_MACOS is {MIN_MACOS}: "
            "raise MIN_MACOS in packaging/bundle_info.py"
        )


def write_plist(data: dict, path: str | os.PathLike) -> Path:
    """XML plist written to a temporary file, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            plistlib.dump(data, f, fmt=plistlib.FMT_XML, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("info-plist", help="write Info.plist").add_argument("out", type=Path)
    sub.add_parser("entitlements", help="write the entitlements plist").add_argument("out", type=Path)
    sub.add_parser("version", help="print the version from pyproject.toml")
    sub.add_parser("bundle-id", help="print the bundle identifier")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bundle_info.py", description=__doc__.splitlines()[0])
    configure_parser(parser)
    args = parser.parse_args(argv)
    try:
        if args.what == "info-plist":
            write_plist(info_plist(), args.out)
        elif args.what == "entitlements":
            write_plist(entitlements(), args.out)
        elif args.what == "version":
            print(project_version())
        else:
            print(BUNDLE_ID)
    except MoshiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
