"""Image files: the pixels fed to the tower, and one clear error line for each bad input."""

import numpy as np
import pytest
from PIL import Image

from moshi_mlx.errors import MoshiError
from moshi_mlx.vis import image as image_mod
from moshi_mlx.vis.image import read_image


def test_reads_resizes_and_normalises(tmp_path):
    path = tmp_path / "a.png"
    rgb = np.zeros((30, 50, 3), np.uint8)
    rgb[..., 0] = 255  # red: R = 1, G = B = -1 after normalisation
    Image.fromarray(rgb).save(path)
    pixels = read_image(path, 42)
    assert pixels.shape == (1, 42, 42, 3) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels[0, 20, 20], [1, -1, -1], atol=1e-6)


def test_grey_and_palette_images_become_rgb(tmp_path):
    path = tmp_path / "g.png"
    Image.new("L", (20, 20), 128).save(path)
    assert read_image(path, 14).shape == (1, 14, 14, 3)


def _one_line_error(path, match, size=28):
    with pytest.raises(MoshiError, match=match) as info:
        read_image(path, size)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, not a picture")
    _one_line_error(path, "not an image file")


def test_missing_file(tmp_path):
    _one_line_error(tmp_path / "none.jpg", "no such image file")


def test_corrupt_png(tmp_path):
    path = tmp_path / "c.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _one_line_error(path, "damaged image")


def test_animated_gif(tmp_path):
    path = tmp_path / "a.gif"
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue", "green")]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    _one_line_error(path, "animated image")


def test_huge_image(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(path)
    monkeypatch.setattr(image_mod, "MAX_PIXELS", 50_000)
    _one_line_error(path, "too large an image")
