"""MoshiVis streams: the image (option `image`, a file) is read, encoded and projected once per
model and image; each generator attends to it from call xa_start on (Kyutai's clients: 16).
Without an image MoshiVis is plain Moshi: the layers skip their cross-attention, as Kyutai's
model does without a source (Kyutai's server itself insists on an image)."""

from __future__ import annotations

import time
from pathlib import Path

import mlx.core as mx

from ..engine.setup import StreamSetup
from .image import read_image
from .lm import image_source


class ImageCache:
    """The last image's cross-attention source, kept on the loaded model (key: path, mtime, size)."""

    def __init__(self):
        self.key = None
        self.source = None
        self.encode_seconds = 0.0

    def get(self, lm, path: str) -> mx.array:
        p = Path(path).expanduser()
        stat = p.stat() if p.is_file() else None
        key = (str(p.resolve()), stat.st_mtime_ns, stat.st_size) if stat else None
        if key is None or key != self.key:
            pixels = read_image(p, lm.image.encoder.config.image_size)
            start = time.perf_counter()
            source = image_source(lm, mx.array(pixels))
            mx.eval(source)
            self.encode_seconds = time.perf_counter() - start
            self.key, self.source = key, source
        return self.source


def image_cache(lm) -> ImageCache:
    cache = getattr(lm, "_image_cache", None)
    if cache is None:
        cache = ImageCache()
        object.__setattr__(lm, "_image_cache", cache)
    return cache


class VisSetup(StreamSetup):
    accepted_options = ("image",)

    def __init__(self, model, sampling, options=None):
        super().__init__(model, sampling, options)
        image = self.options.get("image")
        self.source = image_cache(model.lm).get(model.lm, image) if image else None

    def make_gen(self):
        gen = super().make_gen()
        if self.source is not None:
            gen.set_cross(self.source, start=self.model.lm.vis_config.xa_start)
        return gen
