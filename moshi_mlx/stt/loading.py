"""Opening a speech-to-text model: its kind is checked before anything is downloaded or loaded."""

from __future__ import annotations

import threading
from typing import Callable

# Kyutai's 1B English + French STT with the end-of-turn heads (paragraphs); any STT repo, folder
# or `demo-stt` works (see `python -m moshi_mlx models`).
DEFAULT_MODEL = "kyutai/stt-1b-en_fr-candle"
DEMO = "demo-stt"


def load_stt_model(spec: str, used_by: str, *, cache_dir: str | None = None, codec_backend: str = "mlx",
                   progress: Callable[[str, int, int], None] | None = None,
                   download_progress: Callable[[int, int], None] | None = None,
                   cancel: threading.Event | None = None, mimi_share=None, option: str = "--model"):
    """A LoadedModel of kind "stt", or ModelKindError naming the model, what it is and what to use
    instead (`used_by`: the command or app mode asking, e.g. "`transcribe`"). `mimi_share`: see
    engine.loader.load_model. `option`: the
    option that named the model, for messages (the assistant's --stt)."""
    from ..engine.loader import load_model
    from ..hub import preview_config, resolve_model
    from ..kinds import check_kind

    preview = preview_config(spec, cache_dir)
    if preview:  # {}: nothing known before resolving (a missing folder, a repo not yet downloaded)
        check_kind(preview, ("stt",), spec, used_by)
    files = resolve_model(spec, cache_dir=cache_dir, progress=download_progress, cancel=cancel, option=option)
    check_kind(files.config, ("stt",), spec, used_by)
    return load_model(files, codec_backend, progress=progress, mimi_share=mimi_share)
