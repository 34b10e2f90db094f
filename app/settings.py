"""The app's settings: a frozen dataclass, persisted with QSettings (one key per field)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "moshi-mlx"
APPLICATION = "Moshi"


def default_record_dir() -> str:
    return str(Path.home() / "Music" / "Moshi")


@dataclass(frozen=True)
class AppSettings:
    model: str = ""  # repo id, local folder, or "demo"; "" = none chosen yet (first launch)
    input_device: str = ""  # device name; "" = system default
    output_device: str = ""
    aec: bool = True
    text_temperature: float = 0.7
    text_top_k: int = 25
    audio_temperature: float = 0.8
    audio_top_k: int = 250
    seed: int | None = None
    record_dir: str = field(default_factory=default_record_dir)
    auto_record: bool = False
    cache_dir: str = ""  # "" = the Hugging Face default cache
    local_models: tuple[str, ...] = ()  # folders imported or converted by the user

    def replace(self, **changes) -> "AppSettings":
        return dataclasses.replace(self, **changes)


def _convert(value, default, name: str):
    """QSettings (INI on Linux, plist on macOS) may hand values back as strings: restore the type."""
    if name == "seed":
        return None if value in (None, "", "none", "None") else int(value)
    if name == "local_models":
        if value in (None, ""):
            return ()
        return tuple(str(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return str(value)


class SettingsStore:
    """Reads and writes AppSettings. `path` gives an INI file (tests); default: the system's place."""

    def __init__(self, path: str | None = None) -> None:
        if path:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self._qs = QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                                 ORGANIZATION, APPLICATION)

    @property
    def location(self) -> str:
        return self._qs.fileName()

    def load(self) -> AppSettings:
        defaults = AppSettings()
        values = {}
        for f in dataclasses.fields(AppSettings):
            key = f"settings/{f.name}"
            if not self._qs.contains(key):
                continue
            try:
                values[f.name] = _convert(self._qs.value(key), getattr(defaults, f.name), f.name)
            except (TypeError, ValueError):
                pass  # a damaged value falls back to its default
        return dataclasses.replace(defaults, **values)

    def save(self, settings: AppSettings) -> None:
        for f in dataclasses.fields(AppSettings):
            value = getattr(settings, f.name)
            if f.name == "seed":
                value = "" if value is None else int(value)
            elif f.name == "local_models":
                value = list(value)
            self._qs.setValue(f"settings/{f.name}", value)
        self._qs.sync()

    def value(self, key: str, default=None):
        return self._qs.value(key, default)

    def set_value(self, key: str, value) -> None:
        self._qs.setValue(key, value)
