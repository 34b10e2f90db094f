"""A loaded chat model: what load_llm (llm_loader.py) and the scripted model (scripted.py) give."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class LoadedLLM:
    """An mlx-lm model with its TokenizerWrapper; `name` for messages, `is_demo` for random weights."""

    model: Any
    tokenizer: Any  # mlx_lm.tokenizer_utils.TokenizerWrapper
    name: str
    is_demo: bool = False
    path: Path | None = None
