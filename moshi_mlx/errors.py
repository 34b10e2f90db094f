"""User-facing errors. Their message must name the file, key or device at fault."""


class MoshiError(Exception):
    """Base of all errors shown to users as a message (CLI: no traceback, exit code 2)."""


class CheckpointError(MoshiError):
    """A weights file or model folder is missing, unreadable, or not what it should be."""


class ConfigError(MoshiError):
    """A model configuration has unknown or inconsistent values."""


class AudioDeviceError(MoshiError):
    """An audio device is missing, unusable, disappeared, or access was denied."""


class PersonaError(MoshiError):
    """A persona (voice prompt or role prompt) that this model cannot use."""

    error_kind = "persona"  # the ErrorEvent kind (engine/session_base.py)


class ModelNotAvailableError(MoshiError):
    """A model is neither present locally nor downloadable (e.g. offline)."""
