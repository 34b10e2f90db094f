"""Standard output for the command-line tools: a reader that goes away (`... | head -1`) ends
nothing. The first write that finds the pipe closed switches standard output to /dev/null, quietly;
the command goes on, finishes and keeps the files it writes (as `run` always did), and exits with
its usual status. No "BrokenPipeError" traceback, not even at interpreter exit."""

from __future__ import annotations

import errno
import os
import sys
from contextlib import contextmanager


class _PipeSafe:
    """A text stream proxy whose write/flush survive a closed pipe."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def _guard(self, call, *args):
        if self.broken:
            return None
        try:
            return call(*args)
        except (BrokenPipeError, ValueError) as e:  # ValueError: a closed stream
            if isinstance(e, ValueError) and not getattr(self._stream, "closed", False):
                raise
        except OSError as e:
            if e.errno not in (errno.EPIPE, errno.EINVAL):
                raise
        self._silence()
        return None

    def _silence(self) -> None:
        self.broken = True
        try:  # later writes of anything holding fd 1 (and the final flush) go nowhere
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def write(self, text):
        self._guard(self._stream.write, text)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._guard(self._stream.flush)


@contextmanager
def pipe_safe_stdout():
    """Within the block sys.stdout survives its reader going away (see the module docstring)."""
    original = sys.stdout
    if original is None or isinstance(original, _PipeSafe):
        yield original
        return
    safe = _PipeSafe(original)
    sys.stdout = safe
    try:
        yield safe
    finally:
        safe.flush()
        sys.stdout = original
