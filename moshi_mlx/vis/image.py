"""Image files for MoshiVis: decoded with Pillow, squashed to the tower's square size with bicubic
resampling (aspect ratio not kept, no crop: Kyutai's server and MLX client do the same), scaled to
[-1, 1] (SigLIP's mean 0.5, std 0.5). Anything else than one still picture of a sane size is one
clear MoshiError line."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import MoshiError

MAX_PIXELS = 64_000_000  # 8000 x 8000: above, decoding alone would take seconds and GBs
MAX_BYTES = 100 * 1024 * 1024


class ImageError(MoshiError):
    """An image file that cannot be used."""

    error_kind = "image"


def _pillow():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - a dependency of the package
        raise ImageError("reading images needs Pillow (pip install pillow)") from None
    return Image


def read_image(path: str | Path, size: int) -> np.ndarray:
    """An image file -> pixels [1, size, size, 3] float32 in [-1, 1] (RGB)."""
    return pixels_from_rgb(open_rgb(path), size)


def open_rgb(path: str | Path):
    """An image file, decoded and checked (one ImageError line otherwise) -> a Pillow RGB image."""
    Image = _pillow()
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    if path.stat().st_size > MAX_BYTES:
        raise ImageError(f"{path}: {path.stat().st_size // (1024 * 1024)} MB is too large for an image "
                         f"(at most {MAX_BYTES // (1024 * 1024)} MB)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ImageError(f"{path}: {width}x{height} is too large an image "
                                     f"(at most {MAX_PIXELS // 1_000_000} megapixels)")
                if getattr(img, "n_frames", 1) > 1:
                    raise ImageError(f"{path}: an animated image ({img.n_frames} frames); "
                                     "give one still picture (PNG, JPEG, ...)")
                img.load()
                rgb = img.convert("RGB")
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: too large an image to decode safely") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read (PNG, JPEG, WebP, BMP, GIF, ...)") from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
        raise ImageError(f"{path}: a damaged image file ({e})") from None
    return rgb


def pixels_from_rgb(rgb, size: int) -> np.ndarray:
    """A Pillow RGB image -> [1, size, size, 3] float32 in [-1, 1]."""
    Image = _pillow()
    resized = rgb.resize((size, size), resample=Image.Resampling.BICUBIC)
    pixels = np.asarray(resized, dtype=np.float32) / 255.0
    return ((pixels - 0.5) / 0.5)[None]
