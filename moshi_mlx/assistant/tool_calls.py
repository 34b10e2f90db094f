"""Running the model's tool calls without stopping the frame clock.

A call runs `ToolBox.call(name, arguments, cancel)` on its own thread (it may block for seconds);
the MLX worker keeps stepping audio and polls `result()`. Consent: a call the toolbox says needs
the user's yes waits for `Assistant.answer_consent` or the user's next spoken yes / no
(`spoken_decision`); text from a tool or from the model never answers it.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

MAX_ROUNDS = 4  # tool calls per user turn; beyond, the model is told to answer without tools
FILLER_AFTER_S = 0.7
FILLER = "Let me check."

_YES = re.compile(r"\b(yes|yeah|yep|sure|ok|okay|go ahead|please do|of course|oui|d'accord)\b", re.I)
_ALWAYS = re.compile(r"\b(always|every time|don't ask)\b", re.I)
_NO = re.compile(r"\b(no|nope|don't|do not|stop|cancel|non)\b", re.I)


def spoken_decision(text: str) -> str:
    """The user's spoken answer to a consent question: "always", "once" or "deny"."""
    if _NO.search(text) and not _ALWAYS.search(text):
        return "deny"
    if _ALWAYS.search(text):
        return "always"
    return "once" if _YES.search(text) else "deny"


@dataclass
class Outcome:
    text: str
    is_error: bool


class ToolRun:
    """One call on its own thread; `result()` is None until it ends."""

    def __init__(self, tools, call):
        self.call = call
        self.cancel = threading.Event()
        self.started = time.monotonic()
        self.filler_said = False
        self._result: Outcome | None = None
        self._thread = threading.Thread(target=self._work, args=(tools,), daemon=True,
                                        name=f"tool-{call.name}")
        self._thread.start()

    def _work(self, tools) -> None:
        try:
            r = tools.call(self.call.name, dict(self.call.arguments or {}), self.cancel)
            self._result = Outcome(str(getattr(r, "text", r)), bool(getattr(r, "is_error", False)))
        except Exception as e:  # noqa: BLE001 - ToolBox.call should not raise; if it does, an error result
            self._result = Outcome(f"{type(e).__name__}: {e}", True)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def result(self) -> Outcome | None:
        return self._result

    def wants_filler(self) -> bool:
        if self._result is None and not self.filler_said and self.elapsed_s > FILLER_AFTER_S:
            self.filler_said = True
            return True
        return False

    def stop(self) -> None:
        self.cancel.set()


def short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
