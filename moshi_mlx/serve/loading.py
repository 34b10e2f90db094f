"""The model a server serves: resolved, checked to be a conversation model, then loaded and warmed
up by the engine's ModelCache (as for `chat`). Runs on the MLX worker thread; failures become the
ErrorEvent that explains them."""

from __future__ import annotations

import threading
from typing import Callable

from ..engine.events import ErrorEvent, ProgressEvent, StateEvent
from ..errors import ConfigError


def load_for_serving(options, models, emit: Callable, cancel: threading.Event):
    """`options`: ServeOptions; `models`: the server's engine ModelCache (which keeps the model
    for the next start). The kind is checked before anything is loaded. Returns the LoadedModel."""
    from ..engine.conversation import EngineOptions
    from ..hub import resolve_model
    from ..kinds import KINDS, check_kind

    files = resolve_model(options.model, cache_dir=options.cache_dir, allow_download=True,
                          progress=lambda d, t: emit(ProgressEvent("download", d, t, "bytes")),
                          cancel=cancel)
    served = tuple(k for k in KINDS if "serve" in KINDS[k].commands)
    kind = check_kind(files.config, served, files.name or options.model, "`serve`").name
    if options.persona and kind != "personaplex":
        raise ConfigError(f"--voice/--role: {files.name or options.model} is a {kind} model, which "
                          "takes no persona (PersonaPlex models do)")
    if options.image and kind != "moshivis":
        raise ConfigError(f"--image: {files.name or options.model} is a {kind} model, which takes "
                          "no image (MoshiVis models do)")
    s = options.sampling
    # the warm-up runs the server's persona (its prompt state is kept) or encodes its image (kept
    # in the model's image cache): a bad one is an error here
    model = models.get(EngineOptions(model=options.model, cache_dir=options.cache_dir,
                                     codec_backend=options.codec_backend,
                                     text_temperature=s.text_temperature, text_top_k=s.text_top_k,
                                     audio_temperature=s.audio_temperature,
                                     audio_top_k=s.audio_top_k, seed=s.seed,
                                     kind_options=options.kind_options or None,
                                     kinds=served),
                       emit, cancel)
    model.codec.reset()
    emit(StateEvent("ready", files.name))
    return model


def load_error(e: BaseException, model: str) -> ErrorEvent:
    """The event that says why serving `model` could not start (a cancelled download included)."""
    from ..engine.conversation import error_event
    from ..hub import DownloadCancelled

    if isinstance(e, DownloadCancelled):
        return ErrorEvent("download", f"download of {model} cancelled")
    return error_event(e, model)
