"""Reading the JSON files of model folders (config.json, manifests) with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import CheckpointError, MoshiError


def read_json_object(path: str | Path, error: type[MoshiError] = CheckpointError) -> dict:
    """The JSON object stored in `path`; `error` (naming the file) if it is unreadable or not an object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise error(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object")
    return data
