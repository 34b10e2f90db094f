"""MoshiVis streams: the image (option `image`, a file) is read, encoded and projected once per
model and image; each generator attends to it from call xa_start on (Kyutai's clients: 16).
Without an image MoshiVis is plain Moshi: the layers skip their cross-attention, as Kyutai's
model does without a source (Kyutai's server itself insists on an image).

A new image during a conversation (`VisSetup.change`, on the MLX worker between two frames): its
keys and values replace the old ones from the next frame on; the conversation (KV cache, delays,
random key) goes on. Kyutai's model takes the image's keys and values as an argument of every
step (MOSHIVIS.md §4-5), so a swap is that argument changing; xa_start still counts from the
stream's start: an image given before call xa_start is attended to from xa_start on, as if it
had been there from the start."""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

import mlx.core as mx

from ..engine.setup import StreamSetup
from .image import read_image
from .lm import image_source

KEPT = 4  # images whose projections stay in memory (release: 8 MB each in bfloat16)


class ImageCache:
    """The last few images' cross-attention sources, kept on the loaded model (key: path, mtime,
    size): going back to an image shown before costs no second encoding."""

    def __init__(self, kept: int = KEPT):
        self.kept = kept
        self.sources: OrderedDict = OrderedDict()
        self.encode_seconds = 0.0  # of the last image encoded

    def get(self, lm, path: str) -> mx.array:
        p = Path(path).expanduser()
        stat = p.stat() if p.is_file() else None
        key = (str(p.resolve()), stat.st_mtime_ns, stat.st_size) if stat else None
        if key is not None and key in self.sources:
            self.sources.move_to_end(key)
            return self.sources[key]
        pixels = read_image(p, lm.image.encoder.config.image_size)
        start = time.perf_counter()
        source = image_source(lm, mx.array(pixels))
        mx.eval(source)
        self.encode_seconds = time.perf_counter() - start
        if key is not None:
            self.sources[key] = source
            while len(self.sources) > self.kept:
                self.sources.popitem(last=False)
        return source


def image_cache(lm) -> ImageCache:
    cache = getattr(lm, "_image_cache", None)
    if cache is None:
        cache = ImageCache()
        object.__setattr__(lm, "_image_cache", cache)
    return cache


class VisSetup(StreamSetup):
    """Options: `image` (a file), `xa_start` (the call from which it is attended to; default: the
    model's, Kyutai's clients send theirs)."""

    accepted_options = ("image", "xa_start")
    changeable_options = ("image",)

    def __init__(self, model, sampling, options=None):
        super().__init__(model, sampling, options)
        self.source = self._source(self.options.get("image"))

    def _source(self, image: str | None):
        return image_cache(self.model.lm).get(self.model.lm, image) if image else None

    @property
    def xa_start(self) -> int:
        return int(self.options.get("xa_start", self.model.lm.vis_config.xa_start))

    def make_gen(self):
        gen = super().make_gen()
        if self.source is not None:
            gen.set_cross(self.source, start=self.xa_start)
        return gen

    def change(self, gen, options) -> None:
        """A new image ("" or None: none) from the next frame of the running stream on."""
        self.check_changeable(options)
        image = options.get("image") or None
        self.source = self._source(image)
        self.options["image"] = image
        gen.set_cross(self.source, start=self.xa_start)
