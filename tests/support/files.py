"""Files that tests write to probe the command line: bad audio, read-only places."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf


def moshi(*args, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`python -m moshi_mlx ARGS` -> the completed process (text output captured)."""
    return subprocess.run([sys.executable, "-m", "moshi_mlx", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def assert_clean_error(r: subprocess.CompletedProcess, *words: str) -> None:
    """Exit code 2, no traceback, and every word in the message."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert str(w) in r.stderr, (w, r.stderr)


def tone(path: Path, seconds: float, rate: int = 24000, channels: int = 1, subtype: str = "PCM_16",
         bad: dict[int, float] | None = None) -> Path:
    """A 440 Hz tone (written in blocks), optionally with sample index -> value replacements."""
    with sf.SoundFile(path, "w", rate, channels, subtype=subtype) as f:
        block = rate * 10
        for start in range(0, int(seconds * rate), block):
            n = min(block, int(seconds * rate) - start)
            t = (start + np.arange(n)) / rate
            pcm = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None], channels, 1)
            for index, value in (bad or {}).items():
                if start <= index < start + n:
                    pcm[index - start, 0] = value
            f.write(pcm)
    return path


def readonly_folder(tmp_path: Path) -> Path:
    """A folder where no new file can be created: chmod 555, or /sys for root (who ignores modes)."""
    if os.geteuid() != 0:
        folder = tmp_path / "readonly"
        folder.mkdir(mode=0o555)
        return folder
    assert Path("/sys").is_dir(), "tests as root need /sys (read-only for new files)"
    return Path("/sys")
