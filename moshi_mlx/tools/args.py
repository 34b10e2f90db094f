"""The tools' command-line options, shared by `assistant` and `tools`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import ToolsError
from .toolbox import DEFAULT_TIMEOUT_S, ToolBox, default_data_dir


def add_tool_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("tools")
    g.add_argument("--mcp-config", metavar="FILE",
                   help='MCP servers to use, in the "mcpServers" JSON format of Claude Desktop and Cursor')
    g.add_argument("--tools", metavar="all|none|NAME,...", default="all",
                   help="the tools offered to the model: all (default), none, or names of tools or MCP servers")
    g.add_argument("--allow", metavar="NAME,...", default="",
                   help="tools to run without asking for consent (their policy becomes allow)")


def _names(value: str, option: str) -> list[str]:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    if any(n in ("all", "none") for n in names):
        raise ToolsError(f"{option}: name the tools one by one" if option == "--allow"
                         else f"{option}: give all, none, or a list of names")
    return names


def toolbox_from_args(args: argparse.Namespace, clock=time.time, on_notice=None) -> ToolBox | None:
    """The ToolBox the options ask for (its MCP servers started); None with `--tools none`.
    History: the recordings folder (`args.record_dir` when the command has it, else ~/Music/Moshi).
    `on_notice`: one line for the user when a server fails (default: printed on stderr)."""
    tools = (getattr(args, "tools", "all") or "all").strip()
    if tools == "none":
        return None
    select = None if tools == "all" else _names(tools, "--tools")
    allow = _names(getattr(args, "allow", "") or "", "--allow")
    history = getattr(args, "record_dir", None) or Path.home() / "Music" / "Moshi"
    notice = on_notice or (lambda line: print(f"tools: {line}", file=sys.stderr))
    box = ToolBox(mcp_config=getattr(args, "mcp_config", None), select=select,
                  data_dir=getattr(args, "data_dir", None) or default_data_dir(), history_dir=history,
                  notes_path=getattr(args, "notes", None), timeout_s=getattr(args, "timeout", None) or DEFAULT_TIMEOUT_S,
                  clock=clock, on_notice=notice)
    try:
        known = {t.name for t in box.tools()}
        for name in allow:
            if name not in known:
                raise ToolsError(f"--allow: no tool named {name!r}")
            box.set_policy(name, "allow")
    except BaseException:
        box.close()
        raise
    return box
