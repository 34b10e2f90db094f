"""A private PulseAudio daemon with a 24 kHz null sink whose monitor is the default source: what is
played comes back on the input (a loopback "sound card" for tests on machines without one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass


@dataclass
class VirtualAudio:
    runtime_dir: str
    sink: str = "v24"

    @property
    def source(self) -> str:
        return f"{self.sink}.monitor"


def _pa(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)


def start() -> VirtualAudio:
    """Start the daemon and set os.environ so that PortAudio (sounddevice) finds it.
    Must run before sounddevice is imported, or call `sounddevice._terminate(); _initialize()`."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        raise RuntimeError("pulseaudio/pactl not installed: run scripts/install_system_deps.sh")
    runtime = tempfile.mkdtemp(prefix="moshi-pulse-")
    os.chmod(runtime, 0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime, PULSE_RUNTIME_PATH=os.path.join(runtime, "pulse"))
    env.pop("PULSE_SERVER", None)
    r = _pa(["pulseaudio", "--start", "--exit-idle-time=-1", "--system=false", "-n",
             "--load=module-native-protocol-unix", "--load=module-always-sink"], env)
    if r.returncode != 0:
        raise RuntimeError(f"pulseaudio failed to start: {r.stderr.strip()}")
    for _ in range(50):
        if _pa(["pactl", "info"], env).returncode == 0:
            break
        time.sleep(0.1)
    for cmd in (["pactl", "load-module", "module-null-sink", "sink_name=v24", "rate=24000",
                 "channels=1", "format=float32le"],
                ["pactl", "set-default-sink", "v24"],
                ["pactl", "set-default-source", "v24.monitor"]):
        r = _pa(cmd, env)
        if r.returncode != 0:
            stop(VirtualAudio(runtime))
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    os.environ["XDG_RUNTIME_DIR"] = runtime
    os.environ["PULSE_RUNTIME_PATH"] = env["PULSE_RUNTIME_PATH"]
    return VirtualAudio(runtime)


def stop(va: VirtualAudio) -> None:
    env = dict(os.environ, XDG_RUNTIME_DIR=va.runtime_dir,
               PULSE_RUNTIME_PATH=os.path.join(va.runtime_dir, "pulse"))
    _pa(["pulseaudio", "--kill"], env)
    shutil.rmtree(va.runtime_dir, ignore_errors=True)
