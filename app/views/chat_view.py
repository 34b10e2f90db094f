"""The Assistant's conversation: turns as a chat (who, when), the user's words as live captions,
the assistant's reply growing word by word as it is heard (the last word highlighted), cut-off
replies marked, and tool cards (app/views/tool_card.py) in between. Drawing only; the Assistant
mode (app/modes/assistant.py) feeds it the engine's events."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from .tool_card import ToolCard, describe_arguments

EMPTY_TEXT = ("<b>Ask anything.</b><br>Start the assistant and speak, or type below and press "
              "Return. Its replies are spoken and written here; tool calls show as cards.")


def clock(t: float | None = None) -> str:
    return time.strftime("%H:%M", time.localtime(t))


class Bubble(QFrame):
    """One turn: "You · 10:42" or "Assistant · 10:42" above its text."""

    def __init__(self, who: str, role: str, turn: int) -> None:
        super().__init__()
        self.role, self.turn = role, turn
        self.setObjectName(f"bubble-{role}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase if role == "user" else QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(2)
        self.header = QLabel(f"<b>{html.escape(who)}</b> · {clock()}")
        self.header.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        self.words: list[str] = []  # the assistant's words heard so far
        self.text = ""  # what the bubble says, as plain text
        self.interrupted = False
        self.live = True  # a caption or a reply still growing
        self.setAccessibleName(f"{who} said")

    def set_text(self, text: str, live: bool = False, note: str = "") -> None:
        self.text, self.live = text, live
        shown = html.escape(text.strip()) or ("…" if live else "")
        color = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        style = f' style="color:{color}"' if live else ""
        note_html = f' <i style="color:{color}">{html.escape(note)}</i>' if note else ""
        self.body.setText(f"<span{style}>{shown}</span>{note_html}")
        self.setAccessibleDescription(text.strip() + (f" ({note})" if note else ""))

    def add_word(self, word: str) -> None:
        """The assistant's next word heard: the words so far, the last one highlighted."""
        self.words.append(word)
        self.text = "".join(self.words)
        pal = self.palette()
        before = html.escape("".join(self.words[:-1]).lstrip())
        last = html.escape(word.strip())
        space = " " if before and word[:1].isspace() else ""
        self.body.setText(f"{before}{space}<span style=\"background:{pal.color(QPalette.ColorRole.Highlight).name()};"
                          f"color:{pal.color(QPalette.ColorRole.HighlightedText).name()}\">{last}</span>")
        self.setAccessibleDescription(self.text.strip())

    def highlighted(self) -> str:
        """The word highlighted now ("" when none)."""
        return self.words[-1].strip() if self.live and self.words else ""


class ChatView(QScrollArea):
    consent_answered = Signal(str, str)  # request id, "once" | "always" | "deny"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName("Conversation")
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(8, 8, 8, 8)
        self.column.setSpacing(8)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.empty.setAccessibleName("No conversation yet")
        self.column.addWidget(self.empty, 1)
        self.column.addStretch(0)
        self.setWidget(inner)
        self.items: list[QWidget] = []
        self.cards: dict[str, ToolCard] = {}
        self.verticalScrollBar().rangeChanged.connect(self._follow)

    # -- building ----------------------------------------------------------------------------
    def _add(self, w: QWidget) -> None:
        self.empty.hide()
        self.column.insertWidget(self.column.count() - 1, w)
        self.items.append(w)

    def _follow(self, _low: int, high: int) -> None:
        self.verticalScrollBar().setValue(high)  # the newest turn stays in sight

    def clear(self) -> None:
        for w in self.items:
            self.column.removeWidget(w)
            w.deleteLater()
        self.items, self.cards = [], {}
        self.empty.show()

    def bubbles(self, role: str | None = None) -> list[Bubble]:
        return [w for w in self.items if isinstance(w, Bubble) and role in (None, w.role)]

    def _bubble(self, role: str, turn: int, new: bool = False) -> Bubble:
        """The last item when it is `role`'s bubble of `turn` still growing, else a new one."""
        last = self.items[-1] if self.items else None
        if not new and isinstance(last, Bubble) and last.role == role and last.turn == turn and last.live:
            return last
        bubble = Bubble("You" if role == "user" else "Assistant", role, turn)
        self._add(bubble)
        return bubble

    def _user_bubble(self, turn: int) -> Bubble:
        """The user's bubble of `turn`: its caption, wherever it is, or a new one."""
        found = [b for b in self.bubbles("user") if b.turn == turn and b.live]
        return found[-1] if found else self._bubble("user", turn, new=True)

    # -- events --------------------------------------------------------------------------------
    def user_caption(self, text: str, turn: int) -> None:
        bubble = self._user_bubble(turn)
        bubble.set_text(bubble.text + text, live=True)

    def user_turn(self, text: str, turn: int, typed: bool) -> None:
        self._user_bubble(turn).set_text(text, note="typed" if typed else "")

    def assistant_word(self, word: str, turn: int) -> None:
        self._bubble("assistant", turn).add_word(word)

    def reply_ended(self, turn: int, text: str, heard: str, interrupted: bool) -> None:
        """The reply of `turn` ended: it reads as heard, marked when it was cut off (a reply never
        heard, such as a typed session without speech, reads as written)."""
        found = [b for b in self.bubbles("assistant") if b.turn == turn and b.live]
        bubble = found[-1] if found else None
        shown = heard if (heard or interrupted) else text
        if bubble is None:
            if not shown.strip() and not interrupted:
                return  # a turn that was only a tool call
            bubble = self._bubble("assistant", turn, new=True)
        bubble.interrupted = interrupted
        bubble.set_text(shown, note="(cut off)" if interrupted else "")

    def tool_call(self, event) -> ToolCard:
        card = self.cards.get(event.call_id)
        if card is None:
            card = self._pending_card(event.name, event.turn) if event.state in ("asking", "running") else None
        if card is None:
            card = self._new_card(event.call_id, event.name, event.arguments, event.turn)
        self.cards[event.call_id] = card
        card.set_state(event.state, event.result, event.elapsed_s)
        return card

    def consent(self, event) -> ToolCard:
        card = self._pending_card(event.name, event.turn) or self._new_card(
            event.request_id, event.name, event.arguments, event.turn)
        card.ask(event.request_id, event.question)
        return card

    def reminder(self, text: str) -> None:
        card = ToolCard("Reminder", text, turn=0)
        card.set_state("done", None, 0.0)
        self._add(card)

    def note(self, text: str) -> QLabel:
        """A line from the app in the conversation (a reply that failed, ...)."""
        line = QLabel(text)
        line.setWordWrap(True)
        line.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        line.setAccessibleName("Note")
        line.setAccessibleDescription(text)
        self._add(line)
        return line

    def _pending_card(self, name: str, turn: int) -> ToolCard | None:
        for card in reversed(list(self.cards.values())):
            if card.name == name and card.turn == turn and card.state in ("", "asking", "running"):
                return card
        return None

    def _new_card(self, key: str, name: str, arguments: dict, turn: int) -> ToolCard:
        card = ToolCard(name, describe_arguments(arguments), turn)
        card.answered.connect(self.consent_answered)
        self.cards[key] = card
        self._add(card)
        return card

    def transcript(self) -> str:
        """The conversation as plain text (for tests and copying)."""
        lines = []
        for w in self.items:
            if isinstance(w, Bubble):
                who = "You" if w.role == "user" else "Assistant"
                lines.append(f"{who}: {w.text.strip()}" + (" [cut off]" if w.interrupted else ""))
            elif isinstance(w, ToolCard):
                lines.append(w.summary())
            elif isinstance(w, QLabel):
                lines.append(f"({w.text()})")
        return "\n".join(lines)
