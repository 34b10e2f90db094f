"""Keeping an assistant session for History: `assistant-<time>.wav` (channel 1 the user, channel 2
the assistant) and `assistant-<time>.txt`, one line per turn saying who spoke ("User: ...",
"Assistant: ...", a reply cut off ends with an em-dash), with the session's JSON sidecar. The
recorder of every session (engine/recorder.py): both files valid at every moment.

The two voices are queued separately and written side by side; when one runs ahead of the other by
more than `SLACK_FRAMES` (the user typed, nobody spoke), the other is padded with silence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import FRAME_SIZE, SAMPLE_RATE
from ..engine.recorder import Recorder, _stamp

SLACK_FRAMES = 4


class AssistantRecorder(Recorder):
    def __init__(self, folder: str | Path, models: str, note: str = "", meta: dict | None = None):
        super().__init__(folder, note, meta, name="assistant", channels=2, title=f"Assistant, {models},")
        self._user: list[np.ndarray] = []
        self._assistant: list[np.ndarray] = []

    def user_audio(self, pcm: np.ndarray) -> None:
        self._user.append(np.asarray(pcm, np.float32).reshape(-1))
        self._drain()

    def assistant_audio(self, pcm: np.ndarray) -> None:
        self._assistant.append(np.asarray(pcm, np.float32).reshape(-1))
        self._drain()

    def _drain(self, final: bool = False) -> None:
        a, b = self._user, self._assistant
        limit = 0 if final else SLACK_FRAMES
        while len(a) > limit and not b:
            b.append(np.zeros(FRAME_SIZE, np.float32))
        while len(b) > limit and not a:
            a.append(np.zeros(FRAME_SIZE, np.float32))
        while a and b:
            u, s = a.pop(0), b.pop(0)
            n = max(len(u), len(s))
            self.write_frame(np.pad(u, (0, n - len(u))), np.pad(s, (0, n - len(s))))

    @property
    def time_s(self) -> float:
        return self._wav.seconds + len(self._user) * FRAME_SIZE / SAMPLE_RATE

    def line(self, who: str, text: str) -> None:
        self._txt.write(("\n" if self._line_open else "") + f"[{_stamp(self.time_s)}] {who}: {text}")
        self._line_open = True
        self._txt.flush()

    def close(self) -> None:
        self._drain(final=True)
        super().close()
