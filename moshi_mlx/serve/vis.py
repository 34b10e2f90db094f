"""MoshiVis over the network (moshi_mlx/vis).

`serve --image FILE`: every conversation is about that picture (encoded once, by the warm-up).
Kyutai's MoshiVis clients bring their own: the URL carries `xa_start` (and `image_resolution`),
and the first websocket message, before the handshake, is the picture itself: kind 8, the image
file's bytes (MOSHIVIS.md §3, §5). A URL with either parameter therefore announces that message;
its picture replaces the server's for that conversation. A bad `xa_start` is refused with HTTP 400
and one line; a bad picture with an error message (the socket is open by then) and the connection
closed. `image_resolution`: the tower's size is fixed (the release: 448, Kyutai's default), another
value is noted and ignored. A model of another kind ignores both parameters, with a note."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Mapping

from .protocol import QueryError

IMAGE = 8  # Kyutai's MoshiVis clients: the picture, before the handshake
QUERY_XA_START, QUERY_RESOLUTION = "xa_start", "image_resolution"
MAX_XA_START = 1_000_000
IMAGE_WAIT_S = 30.0  # for the picture a MoshiVis client announced


def vis_from_query(query: Mapping[str, str], model, server_image: str | None
                   ) -> tuple[dict | None, bool, list[str]]:
    """(kind options of this conversation, whether the client sends its picture first, notes for
    the log). `model`: the served LoadedModel (None while it loads)."""
    given = [name for name in (QUERY_XA_START, QUERY_RESOLUTION) if query.get(name)]
    kind = model.kind if model is not None else None
    if kind != "moshivis":
        return None, False, [f"{name}= ignored: this server's model ({kind or 'not loaded yet'}) "
                             "takes no image" for name in given]
    options = {"image": server_image} if server_image else {}
    notes = []
    raw = query.get(QUERY_XA_START)
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if not 0 <= value <= MAX_XA_START:
            raise QueryError(f"query parameter {QUERY_XA_START}={raw!r}: expected a whole number "
                             f"from 0 to {MAX_XA_START}")
        options["xa_start"] = value
    size = model.lm.image.encoder.config.image_size
    raw = query.get(QUERY_RESOLUTION)
    if raw and raw != str(size):
        notes.append(f"{QUERY_RESOLUTION}={raw} ignored: this model's image tower takes {size}x{size}")
    return options or None, bool(given), notes


async def receive_image(ws, timeout: float = IMAGE_WAIT_S) -> Path:
    """The announced first message (kind 8) -> the picture in a private temporary file, checked
    (the caller removes it). Raises ImageError with the line to send back."""
    import aiohttp

    from ..vis.image import ImageError, open_rgb

    try:
        message = await asyncio.wait_for(ws.receive(), timeout)
    except asyncio.TimeoutError:
        raise ImageError(f"no picture within {timeout:g} s (a MoshiVis client sends it first, "
                         "as message kind 8)") from None
    if message.type != aiohttp.WSMsgType.BINARY or not message.data or message.data[0] != IMAGE:
        raise ImageError("the first message must be the picture (message kind 8, the image file's bytes)")
    fd, name = tempfile.mkstemp(prefix="moshi-mlx-image-", suffix=".img")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(message.data[1:])
        await asyncio.to_thread(open_rgb, path)
    except BaseException as e:
        path.unlink(missing_ok=True)
        if isinstance(e, ImageError):  # the client hears of its picture, not of this file
            raise ImageError(str(e).replace(str(path), "the picture")) from None
        raise
    return path
