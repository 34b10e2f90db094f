"""The MCP servers' config file: the `mcpServers` format of Claude Desktop, Cursor and LM Studio.

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "~/Documents"],
                  "env": {"SOME_KEY": "value"}},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ..."}}}}

A local (stdio) server has `command`, optional `args`, `env` and `cwd`; a remote one `url` (http
or https) and optional `headers`; `"type": "sse"` picks the older SSE transport for a remote one.
`"disabled": true` leaves a server out. Other keys are ignored (other apps add their own).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..jsonfile import read_json_object
from .errors import ToolsError

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class ServerConfig:
    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict = field(default_factory=dict)
    transport: str = "stdio"  # "stdio", "http" (streamable HTTP) or "sse"


def read_config(path: str | os.PathLike) -> list[ServerConfig]:
    """The enabled servers of the config file at `path`; ToolsError naming the file and key."""
    data = read_json_object(Path(path).expanduser(), ToolsError)
    servers = data.get("mcpServers")
    if servers is None:
        raise ToolsError(f"{path}: no 'mcpServers' key (expected {{\"mcpServers\": {{\"name\": {{...}}}}}})")
    if not isinstance(servers, dict):
        raise ToolsError(f"{path}: 'mcpServers' must be an object of servers by name")
    return [parse_server(path, name, entry) for name, entry in servers.items()
            if not (isinstance(entry, dict) and entry.get("disabled") is True)]


def parse_server(path, name: str, entry) -> ServerConfig:
    where = f"{path}: mcpServers.{name}"
    if not _NAME.match(name):
        raise ToolsError(f"{where}: a server name uses letters, digits, '_', '-' or '.' (64 at most)")
    if not isinstance(entry, dict):
        raise ToolsError(f"{where}: must be an object with 'command' or 'url'")
    command, url = entry.get("command"), entry.get("url")
    if (command is None) == (url is None):
        raise ToolsError(f"{where}: give either 'command' (a local server) or 'url' (a remote one)")
    if command is not None:
        if not isinstance(command, str) or not command.strip():
            raise ToolsError(f"{where}.command: must be a non-empty string")
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ToolsError(f"{where}.args: must be a list of strings")
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ToolsError(f"{where}.cwd: must be a string")
        return ServerConfig(name, command=command, args=tuple(args), env=_strings(where, entry, "env"),
                            cwd=os.path.expanduser(cwd) if cwd else None)
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        raise ToolsError(f"{where}.url: must be an http:// or https:// address")
    kind = entry.get("type", "http")
    transport = {"http": "http", "streamable-http": "http", "streamableHttp": "http", "sse": "sse"}.get(kind)
    if transport is None:
        raise ToolsError(f"{where}.type: {kind!r} is not 'http' or 'sse'")
    return ServerConfig(name, url=url, headers=_strings(where, entry, "headers"), transport=transport)


def _strings(where: str, entry: dict, key: str) -> dict:
    value = entry.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ToolsError(f"{where}.{key}: must be an object of strings")
    return dict(value)
