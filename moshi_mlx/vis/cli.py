"""`--image FILE` for `run` and `chat` (MoshiVis models)."""

from __future__ import annotations

import argparse


def add_image_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", metavar="FILE", default=None,
                   help="MoshiVis: an image to talk about (PNG, JPEG, ...); encoded once")


def image_options(args: argparse.Namespace, options: dict | None) -> dict | None:
    """kind_options with the image added (None when there is nothing). The file is checked now,
    before devices and models are opened."""
    from .image import open_rgb

    image = getattr(args, "image", None)
    if not image:
        return options
    open_rgb(image)
    return {**(options or {}), "image": image}
