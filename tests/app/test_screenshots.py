"""Screenshot of the idle main window at 800x600 (the conversation, History and model manager
screenshots are taken by test_conversation.py, test_history_page.py and test_model_manager.py, in
those states)."""

from __future__ import annotations

from .conftest import SCREENSHOTS, FakeBackend, talk


def test_screenshot_main_window_idle(qtbot, make_app):
    c = make_app(FakeBackend(), model="kyutai/moshiko-mlx-q4")
    c.window.resize(800, 600)
    qtbot.wait(50)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "main.png"
    assert c.window.grab().save(str(path))
    assert path.stat().st_size > 5000
    assert "Moshiko 7B, 4-bit" in talk(c).page.model_picker.model_label.full_text()
