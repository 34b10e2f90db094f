"""The tools' errors."""

from __future__ import annotations

from ..errors import MoshiError


class ToolsError(MoshiError):
    """A tools setting the user gave is wrong: an MCP config file, --tools, --allow, a policy.
    The message names the file, key or option."""


class ToolInputError(Exception):
    """A tool was called with arguments it cannot use; the message goes back to the model."""
