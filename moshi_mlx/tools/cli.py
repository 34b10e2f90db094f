"""`tools`: list the assistant's tools (built-in and from MCP servers), or call one directly to
test a configuration without any model.

    python -m moshi_mlx tools list [--mcp-config FILE]
    python -m moshi_mlx tools call calculator '{"expression": "2+2"}' [--mcp-config FILE] [--yes]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from .args import toolbox_from_args
from .errors import ToolsError
from .toolbox import DEFAULT_TIMEOUT_S


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    lister = sub.add_parser("list", help="every tool with its source, description and consent policy")
    caller = sub.add_parser("call", help="call one tool and print its result")
    caller.add_argument("name", metavar="NAME", help="the tool's name, as `tools list` shows it")
    caller.add_argument("arguments", metavar="ARGUMENTS", nargs="?", default="{}",
                        help="its arguments as a JSON object (default {})")
    caller.add_argument("--yes", action="store_true",
                        help="consent to a tool that asks, without a question (needed when stdin is not a terminal)")
    caller.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"give up on the call after S seconds (default {DEFAULT_TIMEOUT_S:g})")
    for p in (lister, caller):
        p.add_argument("--mcp-config", metavar="FILE",
                       help='MCP servers, in the "mcpServers" JSON format of Claude Desktop and Cursor')
        p.add_argument("--data-dir", metavar="DIR",
                       help="where reminders.json is kept (default ~/Library/Application Support/Moshi on "
                            "macOS, $XDG_DATA_HOME/moshi-mlx elsewhere)")
        p.add_argument("--record-dir", metavar="DIR",
                       help="the recordings folder search_history reads (default ~/Music/Moshi)")
        p.add_argument("--notes", metavar="FILE",
                       help="the notes file save_note appends to (default ~/Documents/Moshi Notes.md)")


def main(args: argparse.Namespace) -> int:
    args.tools, args.allow = "all", ""
    if args.action == "call":
        arguments = _arguments(args.arguments)
    # `list` names the servers that failed itself; `call` tells of failures on stderr.
    box = toolbox_from_args(args, on_notice=(lambda line: None) if args.action == "list" else None)
    try:
        return _list(box) if args.action == "list" else _call(box, args, arguments)
    finally:
        box.close()


def _arguments(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ToolsError(f"ARGUMENTS: not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise ToolsError('ARGUMENTS: must be a JSON object, e.g. \'{"expression": "2+2"}\'')
    return value


def _list(box) -> int:
    tools = box.tools()
    width = max(len(t.name) for t in tools)
    source_width = max(len(t.source) for t in tools)
    for t in tools:
        description = " ".join(t.description.split())
        print(f"{t.name:<{width}}  {t.source:<{source_width}}  {t.policy:<5}  {description[:100]}")
    for s in box.servers():
        if s.state == "failed":
            print(f"MCP server {s.name}: failed: {s.error}")
        else:
            print(f"MCP server {s.name}: {s.state}, {s.tools} tool{'s' if s.tools != 1 else ''}")
    return 0


def _call(box, args, arguments: dict) -> int:
    if args.name not in {t.name for t in box.tools()}:
        raise ToolsError(f"NAME: no tool named {args.name!r} (see `tools list`)")
    if box.policy(args.name) == "never":
        raise ToolsError(f"{args.name}: its policy is never")
    if box.needs_consent(args.name) and not args.yes:
        question = box.question(args.name, arguments)
        if not sys.stdin.isatty():
            raise ToolsError(f"{args.name} asks for consent ({question}): give --yes to run it from a script")
        answer = input(f"{question} [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not called", file=sys.stderr)
            return 1
    result = box.call(args.name, arguments, threading.Event())
    print(result.text)
    return 1 if result.is_error else 0
