"""Icon pipeline: assets/icon.svg -> iconset PNGs and an .icns container, checked structurally."""

import struct
from pathlib import Path

import icons
import pytest
from PySide6.QtGui import QImage

from moshi_mlx.errors import MoshiError

SVG = Path(__file__).resolve().parents[2] / "assets" / "icon.svg"


def _image(png: bytes) -> QImage:
    image = QImage.fromData(png, "PNG")
    assert not image.isNull()
    return image


def test_render_is_a_rounded_tile_with_transparent_corners():
    png = icons.render_png(SVG, 256)
    assert icons.png_size(png) == (256, 256)
    image = _image(png)
    assert image.hasAlphaChannel()
    assert image.pixelColor(2, 2).alpha() == 0  # outside the rounded square
    assert image.pixelColor(128, 40).alpha() == 255  # the tile itself
    # the white speech bubble and the violet wave bars are both drawn
    colors = {image.pixelColor(x, 128).name() for x in range(60, 200, 2)}
    assert any(c.startswith("#f") for c in colors) and len(colors) > 5


def test_iconset_has_every_size_iconutil_expects(tmp_path):
    written = icons.write_iconset(SVG, tmp_path / "Moshi.iconset")
    assert sorted(p.name for p in written) == sorted(icons.ICONSET_FILES)
    for path in written:
        side = icons.ICONSET_FILES[path.name]
        assert icons.png_size(path.read_bytes()) == (side, side)
        if "@2x" in path.name:
            assert side == 2 * int(path.name.split("_")[1].split("x")[0])


def test_icns_container_structure(tmp_path):
    path = icons.write_icns(SVG, tmp_path / "Moshi.icns")
    data = path.read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    entries = icons.read_icns(path)
    assert {kind: (w, h) for kind, w, h in entries} == {
        kind.decode(): (side, side) for kind, side in icons.ICNS_TYPES.items()
    }
    assert {"ic07", "ic08", "ic09", "ic10", "ic11", "ic12", "ic13", "ic14"} <= {e[0] for e in entries}
    # walk the chunks by hand: each is a decodable PNG of its declared size
    offset = 8
    while offset < len(data):
        kind, length = data[offset:offset + 4], struct.unpack(">I", data[offset + 4:offset + 8])[0]
        image = _image(data[offset + 8:offset + length])
        assert image.width() == image.height() == icons.ICNS_TYPES[kind]
        offset += length
    assert offset == len(data)


def test_bad_inputs_raise_clear_errors(tmp_path):
    bad_svg = tmp_path / "bad.svg"
    bad_svg.write_text("<svg this is not xml")
    with pytest.raises(MoshiError, match="bad.svg"):
        icons.render_png(bad_svg, 16)
    pngs = icons.render_sizes(SVG, {16, 32, 64, 128, 256, 512})
    pngs[1024] = pngs[512]  # wrong size for ic10
    with pytest.raises(MoshiError, match="ic10"):
        icons.icns_bytes(pngs)
    good = icons.write_icns(SVG, tmp_path / "ok.icns").read_bytes()
    truncated = tmp_path / "cut.icns"
    truncated.write_bytes(good[:-100])
    with pytest.raises(MoshiError, match="cut.icns"):
        icons.read_icns(truncated)
    assert icons.main([str(tmp_path / "missing.svg"), "--icns", str(tmp_path / "x.icns")]) == 2


def test_build_icns_off_macos_writes_the_container(tmp_path):
    path = icons.build_icns(SVG, tmp_path / "icon")
    assert path == tmp_path / "icon" / "Moshi.icns"
    assert len(icons.read_icns(path)) == len(icons.ICNS_TYPES)
