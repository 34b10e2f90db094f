"""Talk mode's "Show an image…" (MoshiVis models only; hidden for the others). The chosen picture
goes to the next conversation as EngineOptions.kind_options {"image": path}, where the engine
reads, encodes and projects it once (moshi_mlx/vis/setup.py); chosen while a conversation runs, it
replaces the one shown from the next frame on (ConversationEngine.change, through the bridge's
control thread: never MLX here). A picture comes from the file dialog, a file dropped on the panel,
the clipboard (Paste: a copied file, or image data saved as a PNG), or, on a Mac, a screenshot of a
region or a window (`screencapture -i`: drag a region, or space bar then click a window; Escape
cancels). Pasted pictures and screenshots are kept under the recordings folder, `MoshiVis images/`.
The picture is previewed beside the transcript. A file that is not a usable picture is refused at once
with the engine's one-line message. Recordings keep each image with the time it was shown
(engine/recorder.py; History lists them)."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from .messages import for_error

MOSHIVIS = "moshivis"
FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"
PREVIEW_PX = 160
SCREENSHOT = ("screencapture", "-i", "-x")  # macOS: interactive region or window, no shutter sound
NO_IMAGE = "No image: Moshi talks without one"


class ImagePanel(QWidget):
    dropped = Signal(str)  # a local file dropped on the panel

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.choose_button = QPushButton("Show an image…")
        self.choose_button.setToolTip("A picture to talk about with MoshiVis (also during a "
                                      "conversation; or drop a file here, or paste one)")
        self.choose_button.setAccessibleName("Show an image")
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Show the picture (or image file) on the clipboard")
        self.screenshot_button = QPushButton("Screenshot…")
        self.screenshot_button.setToolTip("Show a region of the screen or a window (drag a region, "
                                          "or press Space and click a window; Escape cancels)")
        self.file_label = QLabel(NO_IMAGE)
        self.file_label.setAccessibleName("Image shown to MoshiVis")
        self.clear_button = QPushButton("No image")
        self.clear_button.setAccessibleName("No image")
        row.addWidget(self.choose_button)
        row.addWidget(self.paste_button)
        row.addWidget(self.screenshot_button)
        row.addWidget(self.file_label, 1)
        row.addWidget(self.clear_button)
        self.preview = QLabel()  # placed beside the transcript by the page
        self.preview.setAccessibleName("The image MoshiVis sees")
        self.preview.setFixedWidth(PREVIEW_PX)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.dropped.emit(files[0])


class ImagePicker(QObject):
    changed = Signal()

    def __init__(self, mode) -> None:
        super().__init__(mode)
        self.mode = mode
        self.panel = ImagePanel()
        self.panel.setVisible(False)
        self.panel.preview.setVisible(False)
        self.active = False  # the Talk model is a MoshiVis model
        self.path = ""
        self.chooser = None  # tests: fn() -> path or ""
        self.saved_folder: Path | None = None  # pasted pictures, screenshots (default: recordings')
        self.screenshot_command = SCREENSHOT  # tests: another program that writes its last argument
        self._capture: QProcess | None = None
        self.panel.choose_button.clicked.connect(lambda: self.choose())
        self.panel.paste_button.clicked.connect(lambda: self.paste())
        self.panel.screenshot_button.clicked.connect(lambda: self.screenshot())
        self.panel.screenshot_button.setVisible(sys.platform == "darwin" and bool(shutil.which(SCREENSHOT[0])))
        self.panel.clear_button.clicked.connect(lambda: self.set_image(""))
        self.panel.dropped.connect(lambda path: self.set_image(path))
        self._paste_shortcut = QShortcut(QKeySequence.StandardKey.Paste, self.panel)
        self._paste_shortcut.activated.connect(lambda: self.paste())
        self._show()

    def set_model(self, spec: str, kind: str | None) -> None:
        self.active = kind == MOSHIVIS
        self.panel.setVisible(self.active)
        self.panel.preview.setVisible(self.active and bool(self.path))

    def choose(self) -> bool:
        path = self.chooser() if self.chooser else QFileDialog.getOpenFileName(
            self.panel, "Show an image to MoshiVis", str(Path(self.path).parent if self.path else Path.home()),
            FILTER)[0]
        return self.set_image(path) if path else False

    def paste(self) -> bool:
        """The clipboard's image file, or its image data saved as a PNG (the engine reads files)."""
        data = QGuiApplication.clipboard().mimeData()
        files = [url.toLocalFile() for url in data.urls() if url.isLocalFile()] if data and data.hasUrls() else []
        if files:
            return self.set_image(files[0])
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.mode.messages.show(for_error("image", "The clipboard holds no picture."))
            return False
        path = self._new_file("pasted")
        if not image.save(str(path), "PNG"):
            self.mode.messages.show(for_error("image", f"{path}: could not be saved."))
            return False
        return self.set_image(str(path))

    def screenshot(self) -> bool:
        """Start the screenshot tool (in the background: the window stays live); its picture is
        shown when it is done, nothing when cancelled. False when one is already running."""
        if self._capture is not None:
            return False
        path = self._new_file("screenshot")
        process = self._capture = QProcess(self)
        process.finished.connect(lambda *_: self._screenshot_done(process, path))
        process.errorOccurred.connect(lambda *_: self._screenshot_done(process, path))
        program, *args = self.screenshot_command
        process.start(program, [*args, str(path)])
        return True

    def _screenshot_done(self, process: QProcess, path: Path) -> None:
        if self._capture is not process:
            return  # finished after errorOccurred: handled once
        self._capture = None
        if path.is_file() and path.stat().st_size > 0:
            self.set_image(str(path))
        elif process.error() == QProcess.ProcessError.FailedToStart:
            self.mode.messages.show(for_error("image", f"{self.screenshot_command[0]} could not start."))

    def _new_file(self, stem: str) -> Path:
        folder = self.saved_folder or Path(self.mode.shell.settings.record_dir or Path.home()) / "MoshiVis images"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / time.strftime(f"{stem}-%Y%m%d-%H%M%S.png")
        n = 1
        while path.exists():
            n += 1
            path = path.with_name(time.strftime(f"{stem}-%Y%m%d-%H%M%S-{n}.png"))
        return path

    def set_image(self, path: str) -> bool:
        """Use `path` ("" for none): at once in a running conversation, else from the next one.
        False (with the message) when the file is not a usable picture."""
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
        if self.active and self.mode.running:
            image = path or None
            self.mode.bridge.call(lambda engine: engine.change({"image": image}))
        self.changed.emit()
        return True

    def _show(self) -> None:
        p = self.panel
        p.file_label.setText(Path(self.path).name if self.path else NO_IMAGE)
        p.file_label.setToolTip(self.path)
        p.clear_button.setEnabled(bool(self.path))
        pixmap = QPixmap(self.path) if self.path else QPixmap()
        if not pixmap.isNull():
            pixmap = pixmap.scaledToWidth(PREVIEW_PX, Qt.TransformationMode.SmoothTransformation)
        p.preview.setPixmap(pixmap)
        p.preview.setVisible(self.active and bool(self.path))

    def kind_options(self) -> dict | None:
        return {"image": self.path} if self.active and self.path else None
