"""Settings > Tools: the built-ins listed with their policies, a policy changed and kept for the next
session, built-ins off, an MCP server from a config file (a real stdio server: its state and tools),
"Import from Claude Desktop"."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from moshi_app.modes import assistant_tools

from .assistant_fakes import AssistantBackend
from .conftest import SCREENSHOTS, wait_for

pytestmark = pytest.mark.timeout(120)
SERVER = str(Path(__file__).resolve().parents[1] / "tools" / "server_demo.py")


def tools_page(qtbot, shell):
    dialog = shell.open_settings()
    tabs = dialog.tabs
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == "Tools")
    tabs.setCurrentIndex(index)
    ts = shell.mode("assistant").tools_settings
    wait_for(qtbot, lambda: ts.job is not None and not ts.job.is_running() and ts.panel.tools.rowCount() > 0, 60_000)
    return dialog, ts


def names(panel) -> list[str]:
    return [panel.tools.item(i, 0).text() for i in range(panel.tools.rowCount())]


def test_builtins_listed_a_policy_kept_and_builtins_off(qtbot, make_app):
    shell = make_app(AssistantBackend())
    m = shell.mode("assistant")
    dialog, ts = tools_page(qtbot, shell)
    p = ts.panel
    assert {"get_time", "set_timer", "calculator", "open_url"} <= set(names(p))
    assert p.builtins_check.isChecked() and not p.import_button.isEnabled() or assistant_tools.claude_config()
    combo = p.policy_combos["open_url"]
    assert combo.currentData() == "ask" and combo.currentText() == "Ask first (default)"
    combo.setCurrentIndex(combo.findData("allow"))
    assert m.tools.policies() == {"open_url": "allow"}
    assert m.tools.toolbox_options()["policies"] == {"open_url": "allow"}
    p.builtins_check.setChecked(False)
    wait_for(qtbot, lambda: not ts.job.is_running() and not p.policy_combos["get_time"].isEnabled())
    assert m.tools.builtins is False
    dialog.reject()


def test_mcp_server_and_import_from_claude_desktop(qtbot, make_app, tmp_path, monkeypatch):
    claude = tmp_path / "claude_desktop_config.json"
    claude.write_text(json.dumps({"mcpServers": {"demo": {"command": sys.executable, "args": [SERVER]}},
                                  "other": 1}))
    monkeypatch.setattr(assistant_tools, "CLAUDE_CONFIG", claude)
    shell = make_app(AssistantBackend())
    m = shell.mode("assistant")
    dialog, ts = tools_page(qtbot, shell)
    p = ts.panel
    assert p.import_button.isEnabled()
    assert ts.import_claude()
    target = Path(m.tools.mcp_config)
    assert target.name == "mcp.json" and json.loads(target.read_text())["mcpServers"]["demo"]["args"] == [SERVER]
    wait_for(qtbot, lambda: not ts.job.is_running() and p.servers.rowCount() == 1, 60_000)
    assert p.servers.item(0, 0).text() == "demo" and p.servers.item(0, 1).text() == "started"
    assert {"add", "delete_everything"} <= set(names(p))
    row = names(p).index("add")
    assert p.tools.item(row, 1).text() == "MCP: demo" and p.policy_combos["add"].currentData() == "allow"
    assert p.policy_combos["delete_everything"].currentData() == "ask"
    dialog.resize(640, 520)
    qtbot.wait(50)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SCREENSHOTS / "assistant-tools.png"))
    ts.set_config("")
    assert m.tools.mcp_config == ""
    dialog.reject()
