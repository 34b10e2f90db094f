"""Wires Settings > Tools (app/views/tools_panel.py) to the Assistant's tool settings
(app/modes/assistant_tools.py). Changes are saved at once and apply to the next session. Listing
starts the MCP servers, so it runs as a background job, never on the UI thread."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from ..fileops import atomic_text
from ..jobs import Job
from ..modes.assistant_tools import claude_config
from ..views.tools_panel import ToolsPanel


class ToolsSettings(QObject):
    def __init__(self, mode, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.mode = mode
        self.tools = mode.tools
        self.panel = ToolsPanel()
        self.job: Job | None = None
        p = self.panel
        p.builtins_check.setChecked(self.tools.builtins)
        p.config_edit.setText(self.tools.mcp_config)
        p.import_button.setEnabled(claude_config() is not None)
        p.import_button.setToolTip(str(claude_config()) if claude_config() else
                                   "Claude Desktop's config file was not found on this Mac")
        p.builtins_check.toggled.connect(self._builtins_toggled)
        p.choose_button.clicked.connect(lambda: self.choose_config())
        p.clear_button.clicked.connect(lambda: self.set_config(""))
        p.import_button.clicked.connect(lambda: self.import_claude())
        p.reload_button.clicked.connect(lambda: self.reload())
        self.panel.destroyed.connect(self._panel_gone)
        self.reload()

    def _panel_gone(self, *_args) -> None:
        if self.job is not None and self.job.is_running():
            self.job.wait()

    def _builtins_toggled(self, on: bool) -> None:
        self.tools.save(builtins=on)
        self.reload()

    def choose_config(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.panel, "MCP servers config file", "",
                                                  "JSON (*.json);;All files (*)")
            if not path:
                return
        self.set_config(path)

    def set_config(self, path: str) -> None:
        self.tools.save(mcp_config=path)
        self.panel.config_edit.setText(path)
        self.reload()

    def import_claude(self, source: Path | None = None) -> bool:
        """Add Claude Desktop's MCP servers to the app's own config file (servers already there
        keep their settings) and use it."""
        from moshi_mlx.tools.toolbox import default_data_dir

        source = source or claude_config()
        if source is None:
            return False
        try:
            theirs = json.loads(Path(source).read_text(encoding="utf-8")).get("mcpServers", {})
            target = Path(self.tools.mcp_config) if self.tools.mcp_config else default_data_dir() / "mcp.json"
            ours = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else {}
            servers = dict(theirs, **ours.get("mcpServers", {}))
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_text(target, json.dumps(dict(ours, mcpServers=servers), indent=2) + "\n")
        except (OSError, ValueError, AttributeError) as e:
            self.panel.status.setText(f"Claude Desktop's servers could not be imported: {e}")
            return False
        self.set_config(str(target))
        self.panel.status.setText(f"Imported {len(theirs)} server(s) from Claude Desktop into {target}.")
        return True

    def reload(self) -> Job | None:
        """List the tools and servers (the servers start in the background)."""
        if self.job is not None and self.job.is_running():
            return None
        options = self.tools.toolbox_options()
        options["builtins"] = True  # listed even when off (shown as not offered)
        backend = self.mode.backend
        self.panel.status.setText("Starting the MCP servers…" if options["mcp_config"] else "")

        def work(progress, cancel):
            box = backend.make_toolbox(**options, data_dir=None)
            try:
                return box.tools(), box.servers()
            finally:
                box.close()

        job = Job("tools", work, self)
        job.succeeded.connect(self._listed)
        job.failed.connect(lambda m: self.panel.status.setText(f"The tools cannot be listed: {m}"))
        self.job = job
        job.start()
        return job

    def _listed(self, found) -> None:
        tools, servers = found
        builtins_on = self.tools.builtins
        tools = [t if builtins_on or t.source != "built-in" else _off(t) for t in tools]
        self.panel.fill(tools, servers)
        for name, combo in self.panel.policy_combos.items():
            combo.currentIndexChanged.connect(lambda _i, n=name, c=combo: self._policy_chosen(n, c.currentData()))
        failed = [s.name for s in servers if s.state == "failed"]
        self.panel.status.setText(f"{len(tools)} tools" + (f"; not started: {', '.join(failed)}" if failed else ""))

    def _policy_chosen(self, name: str, policy: str) -> None:
        policies = self.tools.policies()
        policies[name] = policy
        self.tools.save(policies=policies)


def _off(tool):
    from dataclasses import replace

    return replace(tool, enabled=False)
