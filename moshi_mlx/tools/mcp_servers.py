"""MCP servers, through the official `mcp` SDK, on one private asyncio event-loop thread.

Each server is one task on that loop: it opens the transport (a child process over stdio, or a
remote URL), initializes the session, lists the tools, then waits for `close()`. `call()` is a
blocking wrapper for other threads: it gives up after its timeout or when the cancel event is set,
and never raises. A child process gets the SDK's environment allow-list (HOME, LOGNAME, PATH,
SHELL, TERM, USER) plus the config's `env`, never the rest of ours; its stderr goes to a temporary
file whose last line explains a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import tempfile
import threading
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Callable

from .mcp_config import ServerConfig

START_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 8.0
WAIT_SLICE_S = 0.1  # how often a waiting call looks at its cancel event


@dataclass(frozen=True)
class McpTool:
    server: str
    name: str  # the server's own name for it
    description: str
    input_schema: dict
    read_only: bool  # the server's readOnlyHint (a hint: consent policy is ours)


@dataclass(frozen=True)
class ServerState:
    name: str
    state: str  # "starting", "started", "failed", "stopped"
    error: str = ""
    tools: int = 0


class _Server:
    def __init__(self, config: ServerConfig):
        self.config = config
        self.state, self.error = "starting", ""
        self.session = None
        self.tools: list[McpTool] = []
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.errlog = None
        self.future: concurrent.futures.Future | None = None

    def log_tail(self) -> str:
        if self.errlog is None:
            return ""
        try:
            self.errlog.seek(0)
            lines = [line.strip() for line in self.errlog.read()[-4000:].splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return lines[-1][:300] if lines else ""

    def fail(self, why: str) -> None:
        if self.state in ("starting", "started"):
            tail = self.log_tail()
            self.state, self.error = "failed", why + (f" (its last words: {tail})" if tail and tail not in why else "")


def describe_error(e: BaseException) -> str:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    if isinstance(e, (TimeoutError, asyncio.TimeoutError)):
        return "no answer in time"
    text = " ".join(str(e).split())[:300]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def result_text(result) -> tuple[str, bool]:
    """A CallToolResult as (text for the model, is_error)."""
    parts = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource" and hasattr(block.resource, "text"):
            parts.append(block.resource.text)
        elif kind == "resource_link":
            parts.append(f"[link: {block.uri}]")
        else:
            parts.append(f"[{kind or 'unknown'} content left out]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts), bool(result.is_error)


class McpServers:
    """The configured servers. `start()` starts them all and waits (at most `start_timeout_s`)."""

    def __init__(self, configs: list[ServerConfig], start_timeout_s: float = START_TIMEOUT_S,
                 on_notice: Callable[[str], None] | None = None):
        self._servers = {c.name: _Server(c) for c in configs}
        self.start_timeout_s = start_timeout_s
        self.on_notice = on_notice or (lambda line: None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._loop is not None or not self._servers:
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-servers", daemon=True)
        self._thread.start()
        for server in self._servers.values():
            server.future = asyncio.run_coroutine_threadsafe(self._run(server), self._loop)
        for server in self._servers.values():
            if not server.ready.wait(self.start_timeout_s + 5):
                server.fail(f"did not start within {self.start_timeout_s:g} s")
            if server.state == "failed":
                self.on_notice(f"MCP server {server.config.name!r} failed to start: {server.error}")

    def restart(self, name: str) -> ServerState:
        """Start a server again (one that crashed or failed to start); waits for it."""
        old = self._servers[name]
        if self._loop is None:
            raise RuntimeError("the servers are closed")
        if old.stop is not None:
            self._loop.call_soon_threadsafe(old.stop.set)
        if old.future is not None:
            concurrent.futures.wait([old.future], timeout=CLOSE_TIMEOUT_S)
        server = self._servers[name] = _Server(old.config)
        server.future = asyncio.run_coroutine_threadsafe(self._run(server), self._loop)
        if not server.ready.wait(self.start_timeout_s + 5):
            server.fail(f"did not start within {self.start_timeout_s:g} s")
        if server.state == "failed":
            self.on_notice(f"MCP server {name!r} failed to start: {server.error}")
        return ServerState(name, server.state, server.error, len(server.tools))

    async def _run(self, server: _Server) -> None:
        cfg = server.config
        server.stop = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                read, write = await self._open(stack, server)
                from mcp import ClientSession
                import anyio

                session = await stack.enter_async_context(ClientSession(read, write))
                with anyio.fail_after(self.start_timeout_s):
                    await session.initialize()
                    server.tools = await self._list_tools(session, cfg.name)
                server.session, server.state = session, "started"
                server.ready.set()
                await server.stop.wait()
        except BaseException as e:  # noqa: BLE001 - any failure of a server is its state, not ours
            server.fail(describe_error(e))
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            server.session = None
            if server.state != "failed":
                server.state = "stopped"
            server.ready.set()
            if server.errlog is not None:
                server.errlog.close()

    async def _open(self, stack: AsyncExitStack, server: _Server):
        cfg = server.config
        if cfg.command is not None:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            server.errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
            params = StdioServerParameters(command=cfg.command, args=list(cfg.args), env=dict(cfg.env),
                                           cwd=cfg.cwd)
            return await stack.enter_async_context(stdio_client(params, errlog=server.errlog))
        if cfg.transport == "sse":
            from mcp.client.sse import sse_client

            return await stack.enter_async_context(sse_client(cfg.url, headers=dict(cfg.headers)))
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        client = await stack.enter_async_context(
            httpx2.AsyncClient(headers=dict(cfg.headers), timeout=httpx2.Timeout(30.0, read=300.0)))
        return await stack.enter_async_context(streamable_http_client(cfg.url, http_client=client))

    @staticmethod
    async def _list_tools(session, server_name: str) -> list[McpTool]:
        from mcp.types import PaginatedRequestParams

        tools, cursor = [], None
        for _ in range(50):  # pages
            result = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
            for t in result.tools:
                hints = t.annotations
                tools.append(McpTool(server_name, t.name, (t.description or "").strip(), dict(t.input_schema or {}),
                                     bool(hints is not None and hints.read_only_hint)))
            cursor = result.next_cursor
            if not cursor:
                break
        return tools

    def states(self) -> list[ServerState]:
        return [ServerState(s.config.name, s.state, s.error, len(s.tools)) for s in self._servers.values()]

    def tools(self) -> list[McpTool]:
        return [t for s in self._servers.values() if s.state == "started" for t in s.tools]

    def call(self, server_name: str, tool: str, arguments: dict, timeout_s: float,
             cancel: threading.Event) -> tuple[str, bool]:
        """(text, is_error) of one call; an error text when the server is not running, fails,
        crashes, answers nonsense, takes longer than `timeout_s`, or `cancel` is set."""
        server = self._servers.get(server_name)
        if server is None or server.session is None or server.state != "started" or self._loop is None:
            why = server.error if server is not None and server.error else "not running"
            return f"The MCP server {server_name!r} is unavailable: {why}.", True
        future = asyncio.run_coroutine_threadsafe(self._call(server, tool, arguments, timeout_s), self._loop)
        deadline = timeout_s + 2.0  # the call times itself out; this only guards a stuck loop
        waited = 0.0
        while True:
            try:
                return future.result(timeout=WAIT_SLICE_S)
            except concurrent.futures.TimeoutError:
                waited += WAIT_SLICE_S
                if cancel.is_set():
                    future.cancel()
                    return "The call was cancelled.", True
                if waited >= deadline:
                    future.cancel()
                    return f"The tool {tool!r} did not answer within {timeout_s:g} s.", True
            except concurrent.futures.CancelledError:
                return "The call was cancelled.", True

    async def _call(self, server: _Server, tool: str, arguments: dict, timeout_s: float) -> tuple[str, bool]:
        import anyio

        try:
            with anyio.fail_after(timeout_s):
                result = await server.session.call_tool(tool, arguments)
            return result_text(result)
        except TimeoutError:
            self.on_notice(f"MCP tool {tool!r} ({server.config.name}) did not answer within {timeout_s:g} s")
            return f"The tool {tool!r} did not answer within {timeout_s:g} s.", True
        except Exception as e:  # noqa: BLE001 - the model gets an error result, the conversation goes on
            why = describe_error(e)
            if _connection_lost(e):
                server.fail(f"the server stopped ({why})")
                self.on_notice(f"MCP server {server.config.name!r} stopped: {server.error}")
            else:
                self.on_notice(f"MCP tool {tool!r} ({server.config.name}) failed: {why}")
            return f"The tool {tool!r} failed: {why}.", True

    def close(self) -> None:
        if self._loop is None:
            return
        loop, self._loop = self._loop, None
        for server in self._servers.values():
            if server.stop is not None:
                loop.call_soon_threadsafe(server.stop.set)
        futures = [s.future for s in self._servers.values() if s.future is not None]
        concurrent.futures.wait(futures, timeout=CLOSE_TIMEOUT_S)
        for f in futures:
            f.cancel()
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if not loop.is_running():
            loop.close()


def _connection_lost(e: BaseException) -> bool:
    text = str(e).lower()
    return "connection closed" in text or ("closed" in text and "stream" in text) or isinstance(e, (EOFError, BrokenPipeError))
