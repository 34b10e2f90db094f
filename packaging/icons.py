"""Icon pipeline: assets/icon.svg -> PNGs at every macOS iconset size -> an .icns file.

The SVG is rendered with Qt's SVG renderer (PySide6.QtSvg), which needs no display and no
QGuiApplication, so the same code runs on a Mac and on Linux CI. On a Mac, build.sh hands the
iconset folder to Apple's `iconutil`; elsewhere `write_icns` writes the container itself.
The .icns format: b"icns" + total length (big-endian u32), then chunks of 4-byte type + length
(u32, header included) + payload; since macOS 10.7 the payloads below may be plain PNG files.

    python packaging/icons.py assets/icon.svg --iconset build/Moshi.iconset --icns build/Moshi.icns
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from moshi_mlx.errors import MoshiError

# iconutil's file names -> pixel size
ICONSET_FILES: dict[str, int] = {
    "icon_16x16.png": 16,
    "icon_16x16@2x.png": 32,
    "icon_32x32.png": 32,
    "icon_32x32@2x.png": 64,
    "icon_128x128.png": 128,
    "icon_128x128@2x.png": 256,
    "icon_256x256.png": 256,
    "icon_256x256@2x.png": 512,
    "icon_512x512.png": 512,
    "icon_512x512@2x.png": 1024,
}

# .icns chunk type -> pixel size of its PNG payload
ICNS_TYPES: dict[bytes, int] = {
    b"icp4": 16,
    b"icp5": 32,
    b"ic11": 32,  # 16x16@2x
    b"ic12": 64,  # 32x32@2x
    b"ic07": 128,
    b"ic13": 256,  # 128x128@2x
    b"ic08": 256,
    b"ic14": 512,  # 256x256@2x
    b"ic09": 512,
    b"ic10": 1024,  # 512x512@2x
}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render_png(svg_path: str | os.PathLike, size: int) -> bytes:
    """The SVG drawn into a transparent size x size RGBA image, encoded as PNG."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg_path))
    if not renderer.isValid():
        raise MoshiError(f"{svg_path}: not a readable SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"Qt could not encode the {size}px rendering of {svg_path} as PNG")
    return bytes(data)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if png[:8] != PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise MoshiError("not a PNG file (no PNG signature or IHDR chunk)")
    return struct.unpack(">II", png[16:24])


def render_sizes(svg_path: str | os.PathLike, sizes) -> dict[int, bytes]:
    """One PNG per distinct size."""
    return {size: render_png(svg_path, size) for size in sorted(set(sizes))}


def write_iconset(svg_path: str | os.PathLike, iconset_dir: str | os.PathLike) -> list[Path]:
    """Writes the folder `iconutil -c icns` expects; returns the files written."""
    pngs = render_sizes(svg_path, ICONSET_FILES.values())
    out = Path(iconset_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, size in ICONSET_FILES.items():
        _atomic_write(out / name, pngs[size])
        written.append(out / name)
    return written


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An .icns container holding one PNG chunk per entry of ICNS_TYPES; `pngs` maps size -> PNG."""
    chunks = []
    for kind, size in ICNS_TYPES.items():
        png = pngs[size]
        if png_size(png) != (size, size):
            raise MoshiError(f"the PNG for {kind.decode()} is {png_size(png)}, expected {size}x{size}")
        chunks.append(kind + struct.pack(">I", len(png) + 8) + png)
    body = b"".join(chunks)
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def write_icns(svg_path: str | os.PathLike, icns_path: str | os.PathLike) -> Path:
    """Renders the SVG at every size and writes the .icns file (atomically)."""
    pngs = render_sizes(svg_path, ICNS_TYPES.values())
    path = Path(icns_path)
    _atomic_write(path, icns_bytes(pngs))
    return path


def build_icns(svg_path: str | os.PathLike, out_dir: str | os.PathLike, name: str = "Moshi") -> Path:
    """out_dir/<name>.icns from the SVG: Apple's iconutil on macOS, `write_icns` elsewhere."""
    out = Path(out_dir)
    icns = out / f"{name}.icns"
    iconutil = shutil.which("iconutil") if sys.platform == "darwin" else None
    if iconutil is None:
        return write_icns(svg_path, icns)
    iconset = out / f"{name}.iconset"
    write_iconset(svg_path, iconset)
    subprocess.run([iconutil, "-c", "icns", "-o", str(icns), str(iconset)], check=True)
    return icns


def read_icns(icns_path: str | os.PathLike) -> list[tuple[str, int, int]]:
    """[(chunk type, width, height)] of the PNG chunks; raises MoshiError on a malformed file."""
    data = Path(icns_path).read_bytes()
    if data[:4] != b"icns" or struct.unpack(">I", data[4:8])[0] != len(data):
        raise MoshiError(f"{icns_path}: bad icns header or length")
    entries, offset = [], 8
    while offset < len(data):
        kind = data[offset : offset + 4]
        (length,) = struct.unpack(">I", data[offset + 4 : offset + 8])
        if length < 8 or offset + length > len(data):
            raise MoshiError(f"{icns_path}: chunk {kind!r} at byte {offset} overruns the file")
        payload = data[offset + 8 : offset + length]
        if payload[:8] == PNG_SIGNATURE:
            entries.append((kind.decode("latin-1"), *png_size(payload)))
        offset += length
    return entries


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("svg", type=Path, help="source image (assets/icon.svg)")
    parser.add_argument("--iconset", type=Path, help="write an .iconset folder (input of iconutil)")
    parser.add_argument("--icns", type=Path, help="write an .icns file directly")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="icons.py", description=__doc__.splitlines()[0])
    configure_parser(parser)
    args = parser.parse_args(argv)
    if not args.svg.is_file():
        print(f"error: icon source {args.svg} not found", file=sys.stderr)
        return 2
    if not (args.iconset or args.icns):
        parser.error("give --iconset and/or --icns")
    try:
        if args.iconset:
            print(f"iconset: {len(write_iconset(args.svg, args.iconset))} PNGs in {args.iconset}")
        if args.icns:
            write_icns(args.svg, args.icns)
            print(f"icns: {args.icns} ({len(read_icns(args.icns))} sizes)")
    except MoshiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
