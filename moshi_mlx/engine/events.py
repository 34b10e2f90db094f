"""Events the conversation engine sends to its listener (the terminal UI or the desktop app).

The engine calls `listener(event)` from its worker thread; listeners must be quick and thread-safe
(the app forwards them through a queued Qt signal). None of these carry MLX arrays.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StateEvent:
    """Engine lifecycle: 'loading', 'ready', 'running', 'stopping', 'stopped'."""

    state: str
    detail: str = ""


@dataclass(frozen=True)
class ProgressEvent:
    """Progress of a long job (model download/load/warm-up): done/total in `unit` (total 0 = unknown)."""

    job: str
    done: float
    total: float
    unit: str = ""


@dataclass(frozen=True)
class TextEvent:
    """A piece of Moshi's transcript: `text` is ready to append (leading space included)."""

    text: str
    time_s: float  # conversation time of the frame that produced it
    conversation: int  # increments with each new conversation


@dataclass(frozen=True)
class LevelEvent:
    """Audio levels for meters, in dBFS (RMS over the last frame), about every 80 ms."""

    input_db: float
    output_db: float


@dataclass(frozen=True)
class StatsEvent:
    """Timing statistics, about once a second."""

    frames: int  # frames processed in this conversation
    real_time_factor: float  # mean processing time per frame / 80 ms (< 1: keeps up)
    latency_ms: float  # mic capture -> Moshi's audio for that frame queued for playback
    step_ms: float  # median processing time per frame (encode + LM + decode)
    dropped_frames: int  # input frames dropped to catch up with real time
    underruns: int  # output blocks played as silence because nothing was ready
    aec_ms: float = 0.0  # echo canceller CPU time per frame (0 when off)


@dataclass(frozen=True)
class OptionsEvent:
    """The model kind's options changed during a conversation (MoshiVis: a new image, {"image":
    path or None}), in effect from the frame at `time_s` on."""

    options: dict
    time_s: float
    conversation: int


@dataclass(frozen=True)
class ErrorEvent:
    """Something failed. `kind`: 'no_input_device', 'mic_permission', 'device_lost', 'model_load',
    'out_of_memory', 'download', 'model_kind' (a model of a kind this engine does not run),
    'persona' (a voice or role prompt the model cannot use), 'image' (a picture MoshiVis cannot
    use), 'internal'. `fatal`: the
    conversation stopped because of it."""

    kind: str
    message: str
    fatal: bool = True


Event = StateEvent | ProgressEvent | TextEvent | LevelEvent | StatsEvent | OptionsEvent | ErrorEvent
