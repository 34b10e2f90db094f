"""Saved personas (a name, a voice, a role) and the role presets offered to people.

Stored as one JSON file, `$MOSHI_MLX_HOME/personas.json`, written atomically. No MLX, no Qt: the
app's UI thread may call this module. A persona's voice is kept as it was given (a voice name or a
file path) and resolved when a conversation starts (see stream.py)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import MoshiError

ROLE_PRESETS: dict[str, str] = {
    "Assistant": "You are a wise and friendly assistant. Answer questions clearly and kindly, and "
                 "keep your answers short.",
    "Language tutor": "You are a patient language tutor. Speak simply, correct the user's mistakes "
                      "gently, and ask questions that keep them practising.",
    "Interview practice": "You are a hiring manager interviewing the user for a job they want. Ask "
                          "one question at a time, follow up on their answers, and give honest "
                          "feedback when they ask for it.",
    "Storyteller": "You are a storyteller. Tell vivid, imaginative stories, and let the user decide "
                   "what happens next.",
    "Customer-service trainee": "You work at a company's customer service desk and this is your first "
                                "week. Help the caller politely, ask for the details you need, and "
                                "say so when you must check something.",
}


class PersonaStoreError(MoshiError):
    """The saved personas cannot be read or written."""


@dataclass(frozen=True)
class SavedPersona:
    name: str
    voice: str | None  # a voice name or file path (None: the model's default voice)
    role: str = ""

    def kind_options(self) -> dict:
        """EngineOptions.kind_options for this persona."""
        return {k: v for k, v in (("voice", self.voice), ("role", self.role)) if v}


def store_path() -> Path:
    from ..paths import default_home

    return default_home() / "personas.json"


def load_personas(path: Path | None = None) -> list[SavedPersona]:
    path = path or store_path()
    if not path.is_file():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [SavedPersona(str(p["name"]), p.get("voice"), str(p.get("role", ""))) for p in raw["personas"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PersonaStoreError(f"{path}: unreadable saved personas ({e}); fix or remove the file") from None


def _write(personas: list[SavedPersona], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".personas.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "personas": [asdict(p) for p in personas]}, f, indent=2)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_persona(persona: SavedPersona, path: Path | None = None) -> list[SavedPersona]:
    """Add or replace (by name) a saved persona; returns them all."""
    if not persona.name.strip():
        raise PersonaStoreError("a saved persona needs a name")
    path = path or store_path()
    personas = [p for p in load_personas(path) if p.name != persona.name] + [persona]
    _write(personas, path)
    return personas


def delete_persona(name: str, path: Path | None = None) -> list[SavedPersona]:
    path = path or store_path()
    personas = [p for p in load_personas(path) if p.name != name]
    _write(personas, path)
    return personas
