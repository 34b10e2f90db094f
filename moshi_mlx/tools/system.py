"""What the built-in tools ask of the computer: read the clipboard, open a URL or an app, append a
note. `System` runs the commands (injected in tests); every command has a timeout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ToolInputError

COMMAND_TIMEOUT_S = 5.0
MAX_CLIPBOARD_CHARS = 20_000
MAX_NOTE_CHARS = 10_000


def default_notes_path() -> Path:
    return Path.home() / "Documents" / "Moshi Notes.md"


class System:
    """Runs the platform's commands. `platform`: sys.platform; `which`: shutil.which."""

    def __init__(self, platform: str = sys.platform, which=shutil.which):
        self.platform, self.which = platform, which

    def run(self, argv: list[str], timeout: float = COMMAND_TIMEOUT_S) -> tuple[int, str, str]:
        try:
            p = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ToolInputError(f"{argv[0]} did not answer within {timeout:g} s") from None
        except OSError as e:
            raise ToolInputError(f"cannot run {argv[0]}: {e.strerror or e}") from None
        return (p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))

    def clipboard_command(self) -> list[str]:
        if self.platform == "darwin":
            return ["pbpaste"]
        candidates = [["wl-paste", "--no-newline"], ["xclip", "-selection", "clipboard", "-o"],
                      ["xsel", "--clipboard", "--output"]]
        if not os.environ.get("WAYLAND_DISPLAY"):
            candidates.append(candidates.pop(0))  # X11 first
        for argv in candidates:
            if self.which(argv[0]):
                return argv
        raise ToolInputError("cannot read the clipboard: install wl-clipboard, xclip or xsel")

    def open_command(self) -> list[str]:
        if self.platform == "darwin":
            return ["open"]
        if self.which("xdg-open"):
            return ["xdg-open"]
        raise ToolInputError("cannot open anything: xdg-open is not installed")


def read_clipboard(system: System) -> str:
    rc, out, err = system.run(system.clipboard_command())
    if rc != 0:
        raise ToolInputError(f"cannot read the clipboard: {err.strip() or f'exit status {rc}'}")
    if not out.strip():
        return "The clipboard holds no text."
    if len(out) > MAX_CLIPBOARD_CHARS:
        out = out[:MAX_CLIPBOARD_CHARS] + f"\n[clipboard cut: {len(out)} characters in all]"
    return out


def check_url(url: str) -> str:
    url = str(url).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ToolInputError(f"only http and https addresses can be opened, not {url[:200]!r}")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ToolInputError("the address has spaces or control characters in it")
    return url


def open_url(system: System, url: str) -> str:
    url = check_url(url)
    rc, _, err = system.run(system.open_command() + [url])
    if rc != 0:
        raise ToolInputError(f"could not open {url}: {err.strip() or f'exit status {rc}'}")
    return f"Opened {url}."


def check_app(name: str) -> str:
    name = str(name).strip()
    if not name or len(name) > 100 or name.startswith("-") or any(c in name for c in "/\\\0\n"):
        raise ToolInputError(f"not an app name: {name[:100]!r}")
    return name


def open_app(system: System, name: str) -> str:
    name = check_app(name)
    if system.platform == "darwin":
        argv = ["open", "-a", name]
    elif system.which("gtk-launch"):
        argv = ["gtk-launch", name]
    else:
        raise ToolInputError("opening apps needs macOS, or gtk-launch on Linux")
    rc, _, err = system.run(argv)
    if rc != 0:
        raise ToolInputError(f"could not open the app {name}: {err.strip() or f'exit status {rc}'}")
    return f"Opened {name}."


def append_note(path: str | os.PathLike, text: str, now: datetime) -> str:
    """Append a dated entry to the notes file (created if needed, with the umask's mode). One
    write of the whole entry to a file opened in append mode, so two writers never interleave."""
    text = str(text).strip()
    if not text:
        raise ToolInputError("the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise ToolInputError(f"the note is longer than {MAX_NOTE_CHARS} characters")
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            new = os.fstat(fd).st_size == 0
            entry = ("" if new else "\n") + f"## {now.strftime('%Y-%m-%d %H:%M')}\n\n{text}\n"
            os.write(fd, entry.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as e:
        raise ToolInputError(f"cannot write the note to {path}: {e.strerror or e}") from None
    return f"Saved the note in {path}."
