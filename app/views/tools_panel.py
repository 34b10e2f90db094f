"""Settings > Tools: the Assistant's built-in tools on or off, its MCP servers' config file (Claude
Desktop's format; "Import from Claude Desktop" where that file exists), each server's state and
tools, each tool's policy. Layout and filling only; app/controllers/tools_settings.py wires it."""

from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

POLICY_LABELS = {"ask": "Ask first", "allow": "Allow", "never": "Never"}


class ToolsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        self.builtins_check = QCheckBox("Built-in tools: time, timers and reminders, calculator, History "
                                        "search, clipboard, open a web page or an app, notes")
        self.builtins_check.setAccessibleName("Built-in tools")
        layout.addWidget(self.builtins_check)
        row = QHBoxLayout()
        self.config_edit = QLineEdit()
        self.config_edit.setReadOnly(True)
        self.config_edit.setPlaceholderText("No MCP servers")
        self.config_edit.setAccessibleName("MCP servers config file")
        self.config_edit.setToolTip("A JSON file with an \"mcpServers\" object, as Claude Desktop writes it")
        self.choose_button = QPushButton("Choose…")
        self.choose_button.setAccessibleName("Choose the MCP servers config file")
        self.clear_button = QPushButton("Remove")
        self.clear_button.setAccessibleName("Use no MCP servers")
        self.import_button = QPushButton("Import from Claude Desktop")
        self.import_button.setToolTip("Add the MCP servers Claude Desktop is set up with")
        row.addWidget(QLabel("MCP servers"))
        row.addWidget(self.config_edit, 1)
        row.addWidget(self.choose_button)
        row.addWidget(self.clear_button)
        layout.addLayout(row)
        imports = QHBoxLayout()
        imports.addWidget(self.import_button)
        imports.addStretch(1)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Start the servers again and list their tools")
        imports.addWidget(self.reload_button)
        layout.addLayout(imports)
        self.servers = QTableWidget(0, 3)
        self.servers.setHorizontalHeaderLabels(["Server", "State", "Tools"])
        self.servers.setAccessibleName("MCP servers")
        self.servers.setMaximumHeight(110)
        self.tools = QTableWidget(0, 3)
        self.tools.setHorizontalHeaderLabels(["Tool", "From", "Policy"])
        self.tools.setAccessibleName("Tools and their policies")
        for table in (self.servers, self.tools):
            table.verticalHeader().hide()
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
            for column in (1, 2):
                table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.servers)
        layout.addWidget(self.tools, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Tools state")
        layout.addWidget(self.status)
        self.policy_combos: dict[str, QComboBox] = {}

    def fill(self, tools: list, servers: list) -> None:
        """`tools`: moshi_mlx.tools.ToolInfo; `servers`: ServerState."""
        self.servers.setRowCount(len(servers))
        for i, s in enumerate(servers):
            state = s.state + (f": {s.error}" if s.error else "")
            for j, text in enumerate((s.name, state, str(s.tools))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.servers.setItem(i, j, item)
        self.tools.setRowCount(len(tools))
        self.policy_combos = {}
        for i, t in enumerate(tools):
            name = QTableWidgetItem(t.name)
            name.setToolTip(t.description)
            self.tools.setItem(i, 0, name)
            self.tools.setItem(i, 1, QTableWidgetItem(t.source.replace("mcp:", "MCP: ")))
            combo = QComboBox()
            combo.setAccessibleName(f"Policy of {t.name}")
            for key, text in POLICY_LABELS.items():
                combo.addItem(text + (" (default)" if key == t.default_policy else ""), key)
            combo.setCurrentIndex(max(combo.findData(t.policy), 0))
            combo.setEnabled(t.enabled)
            self.tools.setCellWidget(i, 2, combo)
            self.policy_combos[t.name] = combo
