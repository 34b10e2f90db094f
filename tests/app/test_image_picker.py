"""Talk mode's "Show an image…": shown for MoshiVis models only, the image given to the next
conversation as kind_options, a bad file refused with one message, locked while running."""

from __future__ import annotations

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
    assert not picker.panel.isEnabled()  # one image per conversation
    c.stop()
    wait_for(qtbot, lambda: not c.running)
    assert picker.panel.isEnabled()
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
