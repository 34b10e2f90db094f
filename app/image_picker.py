"""Talk mode's "Show an image…" (MoshiVis models only; hidden for the others): the chosen picture
goes to the next conversation as EngineOptions.kind_options {"image": path}, where the engine
reads, encodes and projects it once (moshi_mlx/vis/setup.py). One image per conversation, as in
Kyutai's server: the choice is locked while a conversation runs. A file that is not a usable
picture is refused at once with the engine's one-line message."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from .messages import for_error

MOSHIVIS = "moshivis"
FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"


class ImagePanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.choose_button = QPushButton("Show an image…")
        self.choose_button.setToolTip("A picture to talk about with MoshiVis (from the next conversation)")
        self.choose_button.setAccessibleName("Show an image")
        self.file_label = QLabel("No image: Moshi talks without one")
        self.file_label.setAccessibleName("Image shown to MoshiVis")
        self.clear_button = QPushButton("No image")
        self.clear_button.setAccessibleName("No image")
        row.addWidget(self.choose_button)
        row.addWidget(self.file_label, 1)
        row.addWidget(self.clear_button)


class ImagePicker(QObject):
    changed = Signal()

    def __init__(self, mode) -> None:
        super().__init__(mode)
        self.mode = mode
        self.panel = ImagePanel()
        self.panel.setVisible(False)
        self.active = False  # the Talk model is a MoshiVis model
        self.path = ""
        self.chooser = None  # tests: fn() -> path or ""
        self.panel.choose_button.clicked.connect(lambda: self.choose())
        self.panel.clear_button.clicked.connect(lambda: self.set_image(""))
        self._show()

    def set_model(self, spec: str, kind: str | None) -> None:
        self.active = kind == MOSHIVIS
        self.panel.setVisible(self.active)

    def choose(self) -> bool:
        path = self.chooser() if self.chooser else QFileDialog.getOpenFileName(
            self.panel, "Show an image to MoshiVis", str(Path(self.path).parent if self.path else Path.home()),
            FILTER)[0]
        return self.set_image(path) if path else False

    def set_image(self, path: str) -> bool:
        """Use `path` from the next conversation on ("" for none); False (with the message) when the
        file is not a usable picture."""
        if path:
            from moshi_mlx.errors import MoshiError
            from moshi_mlx.vis.image import open_rgb

            try:
                open_rgb(path)
            except MoshiError as e:
                self.mode.messages.show(for_error("image", str(e)))
                return False
        self.path = path
        self._show()
        self.changed.emit()
        return True

    def _show(self) -> None:
        p = self.panel
        p.file_label.setText(Path(self.path).name if self.path else "No image: Moshi talks without one")
        p.file_label.setToolTip(self.path)
        p.clear_button.setEnabled(bool(self.path))

    def kind_options(self) -> dict | None:
        return {"image": self.path} if self.active and self.path else None
