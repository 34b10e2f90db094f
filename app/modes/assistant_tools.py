"""The Assistant's tools (moshi_mlx.tools.ToolBox) as the app keeps them: built-ins on or off, the
MCP servers' config file (Claude Desktop's `mcpServers` format), each tool's policy; a ToolBox made
for each session on the bridge's control thread (MCP servers start there, never on the UI thread);
the timers and reminders for the side panel, read from reminders.json (the file the sessions'
ToolBoxes keep) from the moment the mode opens, before any session: listed, cancelled, and the due
ones taken when no session runs to speak them. No Qt, no MLX (moshi_mlx.tools.reminders is plain
Python)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Callable

CLAUDE_CONFIG = (Path.home() / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
                 if sys.platform == "darwin" else Path.home() / ".config" / "Claude" / "claude_desktop_config.json")


def claude_config() -> Path | None:
    """Claude Desktop's config file where it exists (its `mcpServers` can be imported)."""
    return CLAUDE_CONFIG if CLAUDE_CONFIG.is_file() else None


class AssistantTools:
    def __init__(self, mode, clock: Callable[[], float] = time.time) -> None:
        self.mode = mode
        self.box = None  # the ToolBox of the last session
        self.clock = clock  # seconds since the epoch (tests inject theirs)
        self._store = None  # the app's ReminderStore on reminders.json, made when first needed
        self._lock = threading.Lock()

    # -- settings (the mode's options) ------------------------------------------------------------
    @property
    def builtins(self) -> bool:
        return bool(self.mode.option("builtins", True))

    @property
    def mcp_config(self) -> str:
        return self.mode.option("mcp_config", "")

    def policies(self) -> dict[str, str]:
        try:
            found = json.loads(self.mode.option("policies", "{}") or "{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def save(self, builtins: bool | None = None, mcp_config: str | None = None,
             policies: dict[str, str] | None = None) -> None:
        if builtins is not None:
            self.mode.set_option("builtins", bool(builtins))
        if mcp_config is not None:
            self.mode.set_option("mcp_config", mcp_config)
        if policies is not None:
            self.mode.set_option("policies", json.dumps(policies, sort_keys=True))

    def toolbox_options(self) -> dict:
        s = self.mode.shell.settings
        return dict(builtins=self.builtins, mcp_config=self.mcp_config or None, policies=self.policies(),
                    history_dir=s.record_dir or None)

    # -- the session's ToolBox (control thread) -----------------------------------------------------
    def make(self, options: dict | None = None):
        """A new ToolBox (the last one closed); None when built-ins are off and no server is set.
        Blocking while MCP servers start: call it off the UI thread."""
        options = self.toolbox_options() if options is None else options
        self.close()
        if not options["builtins"] and not options["mcp_config"]:
            return None
        box = self.mode.backend.make_toolbox(**options)
        with self._lock:
            self.box = box
        return box

    def close(self) -> None:
        with self._lock:
            box, self.box = self.box, None
        if box is not None:
            box.close()

    # -- timers and reminders -------------------------------------------------------------------------
    def store(self):
        """The app's own store on reminders.json (the file every session's ToolBox shares)."""
        if self._store is None:
            self._store = self.mode.backend.reminder_store(lambda: self.clock())
        return self._store

    def reminders(self) -> list[tuple[str, str]]:
        """(id, "Timer: tea\n14:05 (in 9 min)") of the timers and reminders set, soonest first."""
        from moshi_mlx.tools.reminders import describe

        now = self.clock()
        return [(r.reminder_id, f"{r.text}\n{describe(r, now).rsplit(' at ', 1)[-1]}")
                for r in sorted(self.store().pending(), key=lambda r: r.due_s)]

    def cancel(self, reminder_id: str) -> bool:
        return self.store().cancel(reminder_id) is not None

    def take_due(self) -> list:
        """The reminders due now (each once: they leave the file), for when no session runs."""
        return self.store().due(self.clock())
