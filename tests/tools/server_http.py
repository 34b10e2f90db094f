"""A remote (streamable HTTP) MCP server for the tools' tests: `python server_http.py PORT`."""

import sys

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations

server = MCPServer("remote")


@server.tool(description="The Authorization header this request came with.",
             annotations=ToolAnnotations(read_only_hint=True))
def whoami(ctx: Context) -> str:
    return (ctx.headers or {}).get("authorization", "<none>")


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
