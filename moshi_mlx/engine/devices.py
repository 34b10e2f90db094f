"""Moved to moshi_mlx/audio/devices.py (one audio package); this old path re-exports it."""

from ..audio.devices import (AudioDevice, find_device, format_devices, list_devices,  # noqa: F401
                             pick_samplerate)
