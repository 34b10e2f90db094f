"""Serving Kyutai's clients (its web UI, `python -m moshi.client`) from our MLX engine over Kyutai's
websocket protocol: `python -m moshi_mlx serve`, or `ChatServer` from Python (the desktop app)."""

from .server import ChatServer, ServeOptions

__all__ = ["ChatServer", "ServeOptions"]
