"""The assistant's tools: built-ins (time, timers and reminders, calculator, History search,
clipboard, open a URL or an app, notes) and MCP servers, with consent policies. No Qt, no MLX."""

from .args import add_tool_arguments, toolbox_from_args
from .errors import ToolsError
from .mcp_servers import ServerState
from .reminders import Reminder
from .toolbox import POLICIES, ToolBox, ToolInfo, ToolResult

__all__ = ["POLICIES", "Reminder", "ServerState", "ToolBox", "ToolInfo", "ToolResult", "ToolsError",
           "add_tool_arguments", "toolbox_from_args"]
