"""The assistant's tools: the built-ins and those of MCP servers, with their consent policies.

    box = ToolBox(mcp_config="mcp.json", data_dir=..., history_dir=...)   # servers start here
    box.schemas()                           # for apply_chat_template(tools=...)
    if box.needs_consent(name): ask box.question(name, args); "always" -> box.allow_always(name)
    box.call(name, args, cancel)            # blocking, never raises, own timeout, result capped
    box.due_reminders(time.time())          # each due reminder once
    box.close()

Policies: "allow" (called without asking), "ask" (the engine asks the user first), "never" (not
offered to the model; a call gets an error result). Defaults: built-ins have their own (see
builtins.py); an MCP tool is "allow" when its server marks it read-only, else "ask". Only the user
changes a policy (`set_policy`, `allow_always`, `--allow`): nothing a tool or a model returns does.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from . import builtins as builtin_tools
from .errors import ToolInputError, ToolsError
from .mcp_config import read_config
from .mcp_servers import McpServers, McpTool, ServerState
from .reminders import FILE_NAME as REMINDERS_FILE, Reminder, ReminderStore
from .system import System, default_notes_path

POLICIES = ("ask", "allow", "never")
DEFAULT_TIMEOUT_S = 20.0
MAX_RESULT_CHARS = 6000
MAX_DESCRIPTION_CHARS = 1000  # of an MCP tool, in the prompt
_BAD_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False


@dataclass(frozen=True)
class ToolInfo:
    """A tool as the app lists it."""

    name: str  # the name the model calls
    source: str  # "built-in" or "mcp:<server>"
    description: str
    policy: str  # the policy in force ("ask", "allow", "never")
    default_policy: str
    read_only: bool
    enabled: bool  # offered to the model (--tools, built-ins on/off)


@dataclass
class _Entry:
    name: str
    source: str
    description: str
    parameters: dict
    read_only: bool
    default_policy: str
    builtin: builtin_tools.Builtin | None = None
    mcp: McpTool | None = None


def default_data_dir() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Moshi"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "moshi-mlx"


def cap_text(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[result cut: {len(text)} characters in all, {limit} kept]"


class ToolBox:
    def __init__(self, *, mcp_config: str | os.PathLike | None = None, builtins: bool = True,
                 select: Iterable[str] | None = None, policies: dict[str, str] | None = None,
                 data_dir: str | os.PathLike | None = None, history_dir: str | os.PathLike | None = None,
                 notes_path: str | os.PathLike | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 max_result_chars: int = MAX_RESULT_CHARS, clock: Callable[[], float] = time.time,
                 system: System | None = None, start_timeout_s: float = 30.0,
                 on_notice: Callable[[str], None] | None = None):
        """`select`: the names of the tools (or MCP servers) offered to the model, None for all;
        `policies`: name -> "ask" | "allow" | "never" over the defaults; `data_dir`: where
        reminders.json is kept (None: reminders last for this session only); `history_dir`: the
        recordings folder searched by search_history; `on_notice`: one line for the user when a
        server fails or a call goes wrong. The MCP servers start here (blocking)."""
        self.timeout_s, self.max_result_chars = float(timeout_s), int(max_result_chars)
        self.clock = clock
        self.on_notice = on_notice or (lambda line: None)
        self._lock = threading.Lock()
        self._always: set[str] = set()
        self._builtins_on = bool(builtins)
        reminders_path = Path(data_dir).expanduser() / REMINDERS_FILE if data_dir is not None else None
        self._context = builtin_tools.BuiltinContext(
            ReminderStore(reminders_path, clock), Path(history_dir).expanduser() if history_dir else None,
            Path(notes_path).expanduser() if notes_path else default_notes_path(), system or System(), clock)
        configs = read_config(mcp_config) if mcp_config is not None else []
        self._servers = McpServers(configs, start_timeout_s, self._notice)
        self._servers.start()
        self._policies: dict[str, str] = {}
        try:
            self._entries = self._collect()
            self._select = self._check_select(select)
            for name, policy in (policies or {}).items():
                self.set_policy(name, policy, strict=False)
        except BaseException:
            self._servers.close()
            raise

    # ---- the tools ------------------------------------------------------------------------
    def _collect(self) -> dict[str, _Entry]:
        entries = {b.name: _Entry(b.name, "built-in", b.description, b.parameters, b.read_only, b.policy, builtin=b)
                   for b in builtin_tools.BUILTINS.values()}
        mcp_tools = self._servers.tools()
        counts: dict[str, int] = {}
        for t in mcp_tools:
            counts[_BAD_NAME.sub("_", t.name)] = counts.get(_BAD_NAME.sub("_", t.name), 0) + 1
        for t in mcp_tools:
            name = _BAD_NAME.sub("_", t.name)[:64]
            if name in entries or counts[name] > 1:  # a clash: the server's name first
                name = _BAD_NAME.sub("_", f"{t.server}__{t.name}")[:64]
            if name in entries:
                self._notice(f"MCP tool {t.name!r} of {t.server!r} left out: its name clashes with another")
                continue
            schema = t.input_schema if t.input_schema.get("type") == "object" else {"type": "object", "properties": {}}
            description = (t.description or f"{t.name} ({t.server})")[:MAX_DESCRIPTION_CHARS]
            entries[name] = _Entry(name, f"mcp:{t.server}", description, schema,
                                   t.read_only, "allow" if t.read_only else "ask", mcp=t)
        return entries

    def _check_select(self, select: Iterable[str] | None) -> set[str] | None:
        if select is None:
            return None
        servers = {s.name for s in self._servers.states()}
        chosen = set()
        for name in select:
            if name in self._entries:
                chosen.add(name)
            elif name in servers:
                chosen.update(n for n, e in self._entries.items() if e.source == f"mcp:{name}")
            else:
                raise ToolsError(f"--tools: no tool or MCP server named {name!r} (tools: {', '.join(self._entries)})")
        return chosen

    def _enabled(self, e: _Entry) -> bool:
        if e.builtin is not None and not self._builtins_on:
            return False
        return self._select is None or e.name in self._select

    def policy(self, name: str) -> str:
        e = self._entries.get(name)
        if e is None:
            return "never"
        return self._policies.get(name, e.default_policy)

    def tools(self) -> list[ToolInfo]:
        """Every tool (offered or not) with its source, description and policy."""
        return [ToolInfo(e.name, e.source, e.description, self.policy(e.name), e.default_policy, e.read_only,
                         self._enabled(e)) for e in self._entries.values()]

    def servers(self) -> list[ServerState]:
        return self._servers.states()

    def restart_server(self, name: str) -> ServerState:
        """Start an MCP server again (after a crash, or a failed start); its tools come back with
        the policies and selection they had."""
        if name not in {s.name for s in self._servers.states()}:
            raise ToolsError(f"no MCP server named {name!r}")
        state = self._servers.restart(name)
        self._entries = self._collect()
        return state

    def set_policy(self, name: str, policy: str, strict: bool = True) -> None:
        """Set a tool's policy ("ask", "allow", "never"); ToolsError for an unknown tool or policy
        (an unknown tool is ignored when not `strict`: its server may be down today)."""
        if policy not in POLICIES:
            raise ToolsError(f"policy of {name}: {policy!r} is not one of {', '.join(POLICIES)}")
        if name not in self._entries:
            if strict:
                raise ToolsError(f"no tool named {name!r}")
            return
        with self._lock:
            self._policies[name] = policy
            self._always.discard(name)

    def policies(self) -> dict[str, str]:
        """The policies set over the defaults (for the app to keep)."""
        return dict(self._policies)

    def set_builtins_enabled(self, on: bool) -> None:
        self._builtins_on = bool(on)

    # ---- what the engine uses -----------------------------------------------------------------
    def schemas(self) -> list[dict]:
        """The tools offered to the model (not "never"), as apply_chat_template(tools=...) wants."""
        return [{"type": "function", "function": {"name": e.name, "description": e.description,
                                                  "parameters": e.parameters}}
                for e in self._entries.values() if self._enabled(e) and self.policy(e.name) != "never"]

    def needs_consent(self, name: str) -> bool:
        with self._lock:
            return self.policy(name) == "ask" and name not in self._always

    def question(self, name: str, arguments: dict) -> str:
        e = self._entries.get(name)
        if e is None:
            return f"May I use {name}?"
        if e.builtin is not None:
            return e.builtin.question(arguments if isinstance(arguments, dict) else {})
        args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)[:60]}" for k, v in list((arguments or {}).items())[:4])
        return f"May I use {e.mcp.name} from {e.mcp.server}" + (f" with {args}?" if args else "?")

    def allow_always(self, name: str) -> None:
        """The user said "always" for this tool: no more asking in this session."""
        with self._lock:
            self._always.add(name)

    def call(self, name: str, arguments: dict, cancel: threading.Event | None = None) -> ToolResult:
        """Run a tool (the engine asked for consent first when needed). Blocking; never raises."""
        cancel = cancel or threading.Event()
        e = self._entries.get(name)
        if e is None or not self._enabled(e):
            return ToolResult(f"There is no tool named {name!r}.", True)
        if self.policy(name) == "never":
            return ToolResult(f"The user does not allow the tool {name!r}.", True)
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return ToolResult("The arguments must be a JSON object.", True)
        if e.mcp is not None:
            text, is_error = self._servers.call(e.mcp.server, e.mcp.name, arguments, self.timeout_s, cancel)
            return ToolResult(cap_text(text, self.max_result_chars), is_error)
        try:
            return ToolResult(cap_text(e.builtin.run(self._context, arguments, cancel), self.max_result_chars))
        except ToolInputError as err:
            return ToolResult(str(err), True)
        except Exception as err:  # noqa: BLE001 - a bug in a tool must not end the conversation
            self._notice(f"tool {name} failed: {type(err).__name__}: {err}")
            return ToolResult(f"The tool failed: {type(err).__name__}.", True)

    def due_reminders(self, now: float) -> list[Reminder]:
        return self._context.reminders.due(now)

    def pending_reminders(self) -> list[Reminder]:
        return self._context.reminders.pending()

    def cancel_reminder(self, reminder_id: str) -> bool:
        return self._context.reminders.cancel(reminder_id) is not None

    def close(self) -> None:
        self._servers.close()

    def __enter__(self) -> "ToolBox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _notice(self, line: str) -> None:
        try:
            self.on_notice(line)
        except Exception:  # noqa: BLE001 - a listener's bug must not break a call
            pass
