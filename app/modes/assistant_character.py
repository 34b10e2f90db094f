"""Who the assistant is: a preset of moshi_mlx.assistant.character (label shown, prompt as tooltip)
or "Your own…" system prompt; the choice and the prompt are kept in the Assistant's options."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QInputDialog

CUSTOM = "custom"  # the character "your own system prompt"


class CharacterPicker:
    def __init__(self, mode, combo: QComboBox) -> None:
        self.mode = mode
        self.combo = combo
        self.fill()
        combo.activated.connect(self._chosen)

    def fill(self) -> None:
        combo, mode = self.combo, self.mode
        combo.clear()
        for name, text, prompt in mode.backend.character_presets():
            combo.addItem(text, name)
            combo.setItemData(combo.count() - 1, prompt, Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Your own…", CUSTOM)
        combo.setItemData(combo.count() - 1, mode.option("system", "") or "Write your own system prompt",
                          Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(max(combo.findData(mode.option("preset", "assistant")), 0))

    def _chosen(self, _index: int) -> None:
        preset = self.combo.currentData()
        if preset == CUSTOM and not self.mode.option("system", ""):
            if not self.edit():
                self.fill()
                return
        self.mode.set_option("preset", preset)

    def edit(self, text: str | None = None) -> bool:
        """Your own system prompt (asked when `text` is None), saved and chosen."""
        mode = self.mode
        if text is None:
            text, ok = QInputDialog.getMultiLineText(mode.page, "Your own character",
                                                     "The system prompt the chat model follows:",
                                                     mode.option("system", ""))
            if not ok:
                return False
        mode.set_option("system", text.strip())
        mode.set_option("preset", CUSTOM if text.strip() else "assistant")
        self.fill()
        return bool(text.strip())
