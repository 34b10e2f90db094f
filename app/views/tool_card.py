"""A tool call in the conversation: the tool, its arguments in words, its state and result, the time
it took, and, while it waits for consent, Allow once / Always / Deny."""

from __future__ import annotations

import html
import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

_STATES = {"": "", "asking": "Waiting for your answer", "running": "Running…", "done": "Done",
           "denied": "Denied", "error": "Failed", "cancelled": "Cancelled"}
MAX_RESULT = 240


def tool_title(name: str) -> str:
    """"get_weather" -> "Get weather"; an MCP tool "server.tool" keeps its server."""
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def describe_arguments(arguments: dict) -> str:
    """The call's arguments in words: "city: Paris, days: 3" (long values shortened)."""
    parts = []
    for key, value in (arguments or {}).items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > 80:
            text = text[:77] + "…"
        parts.append(f"{key.replace('_', ' ')}: {text}")
    return ", ".join(parts)


class ToolCard(QFrame):
    answered = Signal(str, str)  # request id, "once" | "always" | "deny"

    def __init__(self, name: str, arguments_text: str, turn: int) -> None:
        super().__init__()
        self.name, self.turn = name, turn
        self.state = ""
        self.result: str | None = None
        self.request_id = ""
        self.decision = ""
        self.setObjectName("tool-card")
        self.setFrameShape(QFrame.Shape.Box)
        self.setAccessibleName(f"Tool call: {tool_title(name)}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(4)
        self.title = QLabel(f"<b>⚙ {html.escape(tool_title(name))}</b>"
                            + (f" — {html.escape(arguments_text)}" if arguments_text else ""))
        self.title.setWordWrap(True)
        self.arguments_text = arguments_text
        self.status = QLabel()
        self.status.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.question.setTextFormat(Qt.TextFormat.PlainText)
        self.question.hide()
        layout.addWidget(self.title)
        layout.addWidget(self.question)
        layout.addWidget(self.status)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.once_button = QPushButton("Allow once")
        self.always_button = QPushButton("Always allow")
        self.deny_button = QPushButton("Deny")
        for button, decision, tip in ((self.once_button, "once", "Allow this call only"),
                                      (self.always_button, "always", "Allow this tool from now on"),
                                      (self.deny_button, "deny", "Do not run it; the assistant is told")):
            button.setToolTip(tip)
            button.setAccessibleName(f"{button.text()}: {tool_title(name)}")
            button.clicked.connect(lambda _=False, d=decision: self.answer(d))
            row.addWidget(button)
        row.addStretch(1)
        self.buttons = QFrame()
        self.buttons.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        self.buttons.hide()
        layout.addWidget(self.buttons)

    def ask(self, request_id: str, question: str) -> None:
        """Consent is wanted: show the question and the three answers."""
        self.request_id = request_id
        self.question.setText(question)
        self.question.show()
        self.buttons.show()
        self.set_state("asking", None, 0.0)

    def answer(self, decision: str) -> None:
        if not self.request_id or self.decision:
            return
        self.decision = decision
        self.buttons.hide()
        self.status.setText({"once": "Allowed once", "always": "Always allowed", "deny": "Denied"}[decision])
        self.answered.emit(self.request_id, decision)

    def set_state(self, state: str, result: str | None, elapsed_s: float) -> None:
        self.state = state
        if result is not None:
            self.result = result
        if state not in ("", "asking"):
            self.buttons.hide()  # answered elsewhere (by voice) or ended
        shown = _STATES.get(state, state)
        if self.result:
            text = self.result if len(self.result) <= MAX_RESULT else self.result[:MAX_RESULT - 1] + "…"
            shown += f": {text}"
        if elapsed_s and state in ("done", "error", "cancelled"):
            shown += f" ({elapsed_s:.1f} s)"
        self.status.setText(shown)
        self.setAccessibleDescription(shown)

    def summary(self) -> str:
        return f"[{self.name}({self.arguments_text})] {self.status.text()}".strip()
