"""Events of the server, beside the engine's (moshi_mlx/engine/events.py) that it also sends:
StateEvent ('loading', 'ready', 'running' once it listens, 'stopping', 'stopped'), ProgressEvent
(download, load, warm-up), ErrorEvent, TextEvent (Moshi's words in the current conversation) and
LevelEvent (per frame). The listener is called from the server's threads: it must be quick and
thread-safe. None of these carry MLX arrays."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientEvent:
    """A device came or went. `change`: 'connected', 'disconnected', or 'refused' (then `detail`
    says why: 'busy', 'unauthorized', 'loading', 'bad request')."""

    change: str
    peer: str  # the client's address
    session: int = 0  # the conversation number (0 when refused)
    detail: str = ""


@dataclass(frozen=True)
class SessionStatsEvent:
    """About once a second during a conversation."""

    session: int
    peer: str
    frames: int  # 80 ms frames processed
    frames_received: int  # 80 ms frames decoded from the client's audio
    real_time_factor: float  # mean engine time per frame / 80 ms (< 1: keeps up)
    step_ms: float  # median engine time per frame
    server_latency_ms: float  # mean: a frame's last sample received -> its answer queued to send
    dropped_input: int  # frames that waited too long for the engine
    dropped_output: int  # Moshi's frames not sent because the client was too far behind
    skipped_messages: int  # malformed messages skipped
    frames_in_flight: int  # Moshi's frames sent but not yet delivered to the client
