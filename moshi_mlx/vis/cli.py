"""`--image FILE` for `run` and `chat` (MoshiVis models), and `chat`'s new image while talking."""

from __future__ import annotations

import argparse
import sys
import threading


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


NO_IMAGE = ("-", "none")


def image_console(engine, lines=None, err=None) -> threading.Thread:
    """`chat` with a MoshiVis model: each line typed while talking (standard input) is a new image
    to show from the next frame on ("-" or "none": no image). The engine reads it on its worker and
    reports a file that is not a usable picture as a warning (the conversation goes on): printed
    from there, not from this thread, since PortAudio silences stderr while it starts up. Returns
    the (daemon) reader thread."""
    lines = sys.stdin if lines is None else lines

    def read() -> None:
        for line in lines:
            if engine.stopping:
                return
            path = line.strip()
            if path:
                show_image(engine, path, err or sys.stderr)

    thread = threading.Thread(target=read, name="image-console", daemon=True)
    thread.start()
    return thread


def show_image(engine, path: str, err) -> bool:
    image = None if path.lower() in NO_IMAGE else path
    try:
        engine.change({"image": image})
    except RuntimeError as e:  # the conversation has ended
        err.write(f"\nerror: {e}\n")
        err.flush()
        return False
    return True


def describe_change(options: dict) -> str:
    """The terminal's line for an OptionsEvent."""
    if "image" in options:
        return f"now showing {options['image']}" if options["image"] else "now showing no image"
    return "options changed: " + ", ".join(f"{k}={v}" for k, v in options.items())
