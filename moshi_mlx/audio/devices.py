"""Audio devices (PortAudio through sounddevice): listing, lookup, and a sample rate each supports."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .. import SAMPLE_RATE
from ..errors import AudioDeviceError

_BUILTIN_WORDS = ("built-in", "builtin", "macbook", "internal", "imac", "mac mini", "mac studio")
_lock = threading.Lock()  # PortAudio (re)initialisation is not thread-safe


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool
    is_builtin: bool


def _is_builtin(name: str) -> bool:
    try:  # one heuristic for the whole project: the echo canceller's
        from .aec import is_builtin_device
    except ImportError:
        return any(w in name.lower() for w in _BUILTIN_WORDS)
    return is_builtin_device(name)


def _sd():
    try:
        import sounddevice
    except OSError as e:  # libportaudio missing
        raise AudioDeviceError(f"PortAudio is not available ({e}): install libportaudio2") from None
    return sounddevice


def _default_indices(sd) -> tuple[int, int]:
    default_in, default_out = -1, -1
    try:
        default_in = sd.query_devices(kind="input")["index"]
    except Exception:
        pass
    try:
        default_out = sd.query_devices(kind="output")["index"]
    except Exception:
        pass
    return default_in, default_out


def list_devices(refresh: bool = False) -> list[AudioDevice]:
    """Every input/output device PortAudio sees. `refresh` re-initialises PortAudio so devices
    plugged in (or servers started) since the first call appear; never do it during a conversation."""
    sd = _sd()
    with _lock:
        if refresh:
            sd._terminate()
            sd._initialize()
        raw = list(sd.query_devices())
        default_in, default_out = _default_indices(sd)
    devices = []
    for i, d in enumerate(raw):
        name = str(d["name"])
        devices.append(AudioDevice(
            index=i, name=name,
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_samplerate=float(d["default_samplerate"]),
            is_default_input=i == default_in, is_default_output=i == default_out,
            is_builtin=_is_builtin(name)))
    return devices


def find_device(spec: int | str | None, kind: str) -> AudioDevice:
    """The device for `spec` (index, exact or partial name, None = system default) with `kind`
    ('input'|'output') channels. Raises AudioDeviceError naming what was asked for."""
    if kind not in ("input", "output"):
        raise ValueError(kind)
    devices = list_devices()
    usable = [d for d in devices
              if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
    if not usable:
        raise AudioDeviceError(f"no {kind} audio device found"
                               + (" (is a microphone connected?)" if kind == "input" else ""))
    if spec is None or spec == "":
        for d in usable:
            if d.is_default_input if kind == "input" else d.is_default_output:
                return d
        return usable[0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        idx = int(spec)
        for d in usable:
            if d.index == idx:
                return d
        raise AudioDeviceError(f"{kind} device {idx} not found or has no {kind} channels; "
                               "see `python -m moshi_mlx chat --list-devices`")
    exact = [d for d in usable if d.name == spec]
    partial = [d for d in usable if spec.lower() in d.name.lower()]
    if exact or len(partial) == 1:
        return (exact or partial)[0]
    if partial:
        names = ", ".join(repr(d.name) for d in partial)
        raise AudioDeviceError(f"{kind} device name {spec!r} is ambiguous: {names}")
    raise AudioDeviceError(f"{kind} device {spec!r} not found; "
                           "see `python -m moshi_mlx chat --list-devices`")


def pick_samplerate(device: AudioDevice, kind: str, channels: int) -> int:
    """24 kHz when the device accepts it, else its default rate (then resampled with soxr)."""
    sd = _sd()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    for rate in (SAMPLE_RATE, int(device.default_samplerate), 48_000, 44_100):
        try:
            check(device=device.index, channels=channels, samplerate=rate, dtype="float32")
            return rate
        except Exception:
            continue
    raise AudioDeviceError(f"{kind} device {device.name!r} accepts none of 24000, "
                           f"{int(device.default_samplerate)}, 48000, 44100 Hz")


def format_devices(devices: list[AudioDevice]) -> str:
    """A table for the terminal (`chat --list-devices`)."""
    if not devices:
        return "no audio devices found"
    lines = [" idx  in out  rate    name"]
    for d in devices:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        lines.append(f"{mark}{d.index:3d} {d.max_input_channels:3d} {d.max_output_channels:3d} "
                     f"{int(d.default_samplerate):6d}  {d.name}{'  (built-in)' if d.is_builtin else ''}")
    lines.append("< default input, > default output")
    return "\n".join(lines)
