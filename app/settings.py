"""The app's settings: frozen dataclasses persisted with QSettings (one key per field).

AppSettings holds what is shared by the whole app (group `settings/`); each mode keeps its own
ModeSettings, its last model and devices (group `modes/<mode id>/`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QSettings

from moshi_mlx.sampling_defaults import AUDIO_TEMPERATURE, AUDIO_TOP_K, TEXT_TEMPERATURE, TEXT_TOP_K

ORGANIZATION = "moshi-mlx"
APPLICATION = "Moshi"


def default_record_dir() -> str:
    """~/Music/Moshi: recordings are the user's documents (audio they may open, move or back up),
    so they live where the Finder shows audio, not in the hidden Application Support folder."""
    return str(Path.home() / "Music" / "Moshi")


@dataclass(frozen=True)
class ModeSettings:
    """What each mode remembers for itself."""

    model: str = ""  # repo id, local folder, or a demo spec; "" = none chosen yet
    input_device: str = ""  # device name; "" = system default
    output_device: str = ""

    def replace(self, **changes) -> "ModeSettings":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class AppSettings:
    last_mode: str = "talk"  # the page shown at launch: a mode id or "history"
    global_shortcut: bool = True  # macOS: Control-Option-M starts/stops from anywhere
    aec: bool = True
    text_temperature: float = TEXT_TEMPERATURE
    text_top_k: int = TEXT_TOP_K
    audio_temperature: float = AUDIO_TEMPERATURE
    audio_top_k: int = AUDIO_TOP_K
    seed: int | None = None
    record_dir: str = field(default_factory=default_record_dir)
    auto_record: bool = False
    cache_dir: str = ""  # "" = the Hugging Face default cache
    local_models: tuple[str, ...] = ()  # folders imported or converted by the user
    # "Let other devices connect" (app/sharing.py): Kyutai's clients talk to Talk's model
    sharing: bool = False
    sharing_port: int = 8998  # Kyutai's server's default
    sharing_network: bool = False  # False: this Mac only (127.0.0.1); True: the local network
    sharing_token: str = ""  # always set when sharing_network (made when first needed)
    sharing_tls_dir: str = ""  # a folder with cert.pem and key.pem; "" = plain http
    sharing_web_dir: str = ""  # Kyutai's web UI (its built dist folder) served at /; "" = none

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

    def _load(self, defaults, prefix: str, fallback_prefix: str = ""):
        values = {}
        for f in dataclasses.fields(defaults):
            keys = [prefix + f.name] + ([fallback_prefix + f.name] if fallback_prefix else [])
            key = next((k for k in keys if self._qs.contains(k)), None)
            if key is None:
                continue
            try:
                values[f.name] = _convert(self._qs.value(key), getattr(defaults, f.name), f.name)
            except (TypeError, ValueError):
                pass  # a damaged value falls back to its default
        return dataclasses.replace(defaults, **values)

    def _save(self, settings, prefix: str) -> None:
        for f in dataclasses.fields(settings):
            value = getattr(settings, f.name)
            if f.name == "seed":
                value = "" if value is None else int(value)
            elif f.name == "local_models":
                value = list(value)
            self._qs.setValue(prefix + f.name, value)
        self._qs.sync()

    def load(self) -> AppSettings:
        return self._load(AppSettings(), "settings/")

    def save(self, settings: AppSettings) -> None:
        self._save(settings, "settings/")

    def load_mode(self, mode_id: str) -> ModeSettings:
        # Talk's model and devices were app-wide settings before modes existed: keep them.
        return self._load(ModeSettings(), f"modes/{mode_id}/", "settings/" if mode_id == "talk" else "")

    def save_mode(self, mode_id: str, settings: ModeSettings) -> None:
        self._save(settings, f"modes/{mode_id}/")

    def load_option(self, mode_id: str, key: str, default):
        """A mode's own setting beyond ModeSettings (`modes/<id>/<key>`), of `default`'s type."""
        value = self._qs.value(f"modes/{mode_id}/{key}")
        if value is None:
            return default
        try:
            return _convert(value, default, key)
        except (TypeError, ValueError):
            return default  # a damaged value falls back to its default

    def save_option(self, mode_id: str, key: str, value) -> None:
        self._qs.setValue(f"modes/{mode_id}/{key}", value)
        self._qs.sync()

    def value(self, key: str, default=None):
        return self._qs.value(key, default)

    def set_value(self, key: str, value) -> None:
        self._qs.setValue(key, value)
