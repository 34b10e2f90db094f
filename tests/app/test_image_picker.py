"""Talk mode's "Show an image…": shown for MoshiVis models only, the image given to the next
conversation as kind_options, changed during a conversation through the engine's `change`, from
the file dialog, a drop or the clipboard, previewed beside the transcript; a bad file refused
with one message."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt

from .conftest import FakeBackend, talk, wait_for


def test_image_for_moshivis_only(qtbot, make_app, tmp_path):
    backend = FakeBackend()
    c = talk(make_app(backend, model="demo"))
    picker = c.image
    assert not picker.panel.isVisible() and picker.kind_options() is None
    assert c.set_model("demo-vis")
    assert picker.panel.isVisible() and picker.kind_options() is None  # no image: plain Moshi
    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), "green").save(photo)
    picker.chooser = lambda: str(photo)
    qtbot.mouseClick(picker.panel.choose_button, Qt.MouseButton.LeftButton)
    assert picker.kind_options() == {"image": str(photo)}
    assert picker.panel.file_label.text() == "photo.png"
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: bool(backend.options) and c.running)
    assert backend.options[-1].kind_options == {"image": str(photo)}
    wait_for(qtbot, lambda: c.page.start_button.isEnabled() and c.page.start_button.text() == "Stop conversation")
    assert picker.panel.isEnabled() and not picker.panel.preview.isHidden()
    c.stop()
    wait_for(qtbot, lambda: not c.running)
    assert picker.panel.isEnabled() and not backend.changes
    qtbot.mouseClick(picker.panel.clear_button, Qt.MouseButton.LeftButton)
    assert picker.kind_options() is None
    assert c.set_model("demo")
    assert not picker.panel.isVisible()


def test_a_bad_file_is_refused_with_a_message(qtbot, make_app, tmp_path):
    c = talk(make_app(FakeBackend(), model="demo-vis"))
    shown = []
    c.messages.show = lambda message: shown.append(message)
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    assert not c.image.set_image(str(bad))
    assert c.image.kind_options() is None
    assert len(shown) == 1 and "not an image file" in shown[0].text


def test_image_changed_while_talking(qtbot, make_app, tmp_path):
    """Chosen during a conversation: sent to the running engine (on the bridge's control thread),
    its OptionsEvent shown in the status; "No image" likewise; the preview follows the choice."""
    backend = FakeBackend()
    c = talk(make_app(backend, model="demo-vis"))
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    Image.new("RGB", (40, 30), "green").save(first)
    Image.new("RGB", (30, 40), "red").save(second)
    assert c.image.set_image(str(first))
    qtbot.mouseClick(c.page.start_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: c.page.start_button.isEnabled() and c.page.start_button.text() == "Stop conversation")
    c.image.chooser = lambda: str(second)
    qtbot.mouseClick(c.image.panel.choose_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: backend.changes == [{"image": str(second)}])
    assert ("change", "engine-control_0") in backend.calls  # not on the UI thread
    wait_for(qtbot, lambda: "showing second.png" in c.page.state_label.text())
    assert c.image.panel.preview.pixmap().width() == 160
    assert c.image.panel.preview.pixmap().height() == round(160 * 40 / 30)
    qtbot.mouseClick(c.image.panel.clear_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: backend.changes[-1] == {"image": None})
    assert c.image.panel.preview.isHidden()
    c.stop()
    wait_for(qtbot, lambda: not c.running)
    assert backend.options[-1].kind_options == {"image": str(first)}  # what it started with
    assert c.image.kind_options() is None  # the next one: no image, the last choice


def test_image_dropped_or_pasted(qtbot, make_app, tmp_path):
    from PySide6.QtCore import QMimeData, QPoint, QUrl
    from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

    c = talk(make_app(FakeBackend(), model="demo-vis"))
    dropped = tmp_path / "dropped.png"
    Image.new("RGB", (20, 20), "blue").save(dropped)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    event = QDropEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    c.image.panel.dropEvent(event)
    assert c.image.kind_options() == {"image": str(dropped)}
    image = QImage(24, 12, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.yellow)
    QGuiApplication.clipboard().setImage(image)
    c.image.saved_folder = tmp_path / "pasted"
    qtbot.mouseClick(c.image.panel.paste_button, Qt.MouseButton.LeftButton)
    pasted = Path(c.image.kind_options()["image"])
    assert pasted.parent == tmp_path / "pasted" and pasted.suffix == ".png"
    assert Image.open(pasted).size == (24, 12) and Image.open(pasted).convert("RGB").getpixel((0, 0)) == (255, 255, 0)
    QGuiApplication.clipboard().clear()
    shown = []
    c.messages.show = lambda message: shown.append(message)
    assert not c.image.paste()
    assert len(shown) == 1 and "no picture" in shown[0].text


def test_screenshot(qtbot, make_app, tmp_path):
    """The screenshot tool runs in the background (a stand-in here for macOS's screencapture: it
    writes the file named last); its picture is shown; a cancelled one (no file) changes nothing."""
    import sys

    c = talk(make_app(FakeBackend(), model="demo-vis"))
    c.image.saved_folder = tmp_path / "shots"
    c.image.screenshot_command = (sys.executable, "-c", "import sys; from PIL import Image; "
                                  "Image.new('RGB', (16, 9), 'white').save(sys.argv[-1])")
    assert c.image.screenshot()
    assert not c.image.screenshot()  # one at a time
    wait_for(qtbot, lambda: c.image.kind_options() is not None)
    shot = Path(c.image.kind_options()["image"])
    assert shot.parent == tmp_path / "shots" and shot.name.startswith("screenshot-")
    assert Image.open(shot).size == (16, 9)
    c.image.screenshot_command = (sys.executable, "-c", "pass")  # Escape: no file
    assert c.image.screenshot()
    wait_for(qtbot, lambda: c.image._capture is None)
    assert c.image.kind_options() == {"image": str(shot)}
    shown = []
    c.messages.show = lambda message: shown.append(message)
    c.image.screenshot_command = (str(tmp_path / "no-such-tool"),)
    assert c.image.screenshot()
    wait_for(qtbot, lambda: c.image._capture is None)
    assert len(shown) == 1 and "could not start" in shown[0].text
