"""The model a server serves: resolved, checked to be a conversation model, loaded, warmed up.
Runs on the MLX worker thread; failures become the ErrorEvent that explains them."""

from __future__ import annotations

import threading
import traceback
from typing import Callable

from ..engine.events import ErrorEvent, ProgressEvent, StateEvent
from ..errors import ModelNotAvailableError, MoshiError

WARMUP_FRAMES = 3


def load_for_serving(options, emit: Callable, cancel: threading.Event):
    """`options`: ServeOptions. Returns the LoadedModel; `emit` gets progress and state events."""
    import numpy as np

    from ..engine.core import FrameEngine
    from ..engine.loader import load_model
    from ..hub import resolve_model
    from ..kinds import check_kind

    files = resolve_model(options.model, cache_dir=options.cache_dir, allow_download=True,
                          progress=lambda d, t: emit(ProgressEvent("download", d, t, "bytes")),
                          cancel=cancel)
    check_kind(files.config, ("moshi", "personaplex"), files.name or options.model, "`serve`")
    model = load_model(files, options.codec_backend,
                       progress=lambda job, d, t: emit(ProgressEvent(job, d, t)))
    warm = FrameEngine(model, options.sampling)
    silence = np.zeros(model.codec.frame_size, np.float32)
    for i in range(WARMUP_FRAMES):
        warm.step(silence)
        emit(ProgressEvent("warm-up", i + 1, WARMUP_FRAMES, "frames"))
    model.codec.reset()
    emit(StateEvent("ready", files.name))
    return model


def load_error(e: BaseException, model: str) -> ErrorEvent:
    """The event that says why serving `model` could not start."""
    from ..hub import DownloadCancelled

    if isinstance(e, DownloadCancelled):
        return ErrorEvent("download", f"download of {model} cancelled")
    if isinstance(e, ModelNotAvailableError):
        return ErrorEvent("download", str(e))
    if isinstance(e, MemoryError):
        return ErrorEvent("out_of_memory", f"not enough memory to run {model}: choose a smaller "
                          "(4-bit) model or close other applications")
    if isinstance(e, MoshiError):
        return ErrorEvent("model_load", str(e))
    return ErrorEvent("internal", f"{type(e).__name__}: {e}\n"
                      + "".join(traceback.format_exception(e)))
