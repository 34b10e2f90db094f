"""The Assistant's model trio picker: each slot's choices with sizes and download state, the memory
fit of the three together (a warning when they do not fit), any mlx-lm repo or folder as the chat
model, and OK choosing the trio."""

from __future__ import annotations

import pytest

from moshi_app import sysinfo

from .assistant_fakes import AssistantBackend
from .conftest import SCREENSHOTS, open_mode

GB = 1_000_000_000


@pytest.fixture
def mode(make_app, monkeypatch):
    def make(memory=16 * 2**30, installed=()):
        monkeypatch.setattr(sysinfo, "total_memory_bytes", lambda: memory)
        backend = AssistantBackend()
        backend.installed = set(installed)
        shell = make_app(backend)
        return open_mode(shell, "assistant")
    return make


def items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_slots_list_sizes_and_downloads(qtbot, mode):
    m = mode(installed={"kyutai/stt-1b-en_fr-candle"})
    m.page.model_picker.models_button.click()
    d = m.trio_dialog
    stt = items(d.stt_combo)
    assert stt[0] == "None: typed turns only" and stt[1].startswith("Demo speech to text")
    assert any(t.startswith("Kyutai STT 1B, English + French, with end-of-turn") and "downloaded)" in t
               and "not downloaded" not in t for t in stt)
    assert any(t.startswith("Kyutai STT 2.6B, English (") and "GB, not downloaded" in t for t in stt)
    assert any(t.startswith("Kyutai TTS 1.6B") for t in items(d.tts_combo))
    llm = items(d.llm_combo)
    assert llm[0].startswith("Demo chat model") and any("Gemma 3 1B instruct" in t and "MB" in t for t in llm)
    assert d.llm_combo.isEditable()


def test_demo_trio_fits_and_ok_chooses_it(qtbot, mode):
    m = mode()
    d = m.open_models()
    d.set_trio("demo-stt", "demo-llm", "demo-tts")
    assert d.fit_level == "ok" and "fits comfortably" in d.fit_label.text()
    assert d.download_label.text() == ""
    d.accept()
    assert m.trio() == ("demo-stt", "demo-llm", "demo-tts")


def test_a_trio_too_big_for_this_mac_is_said_clearly(qtbot, mode):
    m = mode(memory=8 * 2**30)
    d = m.open_models()
    d.set_trio("kyutai/stt-2.6b-en", "mlx-community/Qwen3-8B-4bit", "kyutai/tts-1.6b-en_fr")
    assert d.fit_level == "too_big"
    assert "Too big for this Mac" in d.fit_label.text() and "8 GB" in d.fit_label.text()
    assert "Not downloaded yet: Kyutai STT 2.6B" in d.download_label.text()
    d.set_trio("", "mlx-community/gemma-3-1b-it-4bit", "")  # typed in, text out: small
    assert d.fit_level == "ok"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def test_any_mlx_lm_repo_or_folder(qtbot, mode, tmp_path):
    m = mode()
    d = m.open_models()
    d.llm_combo.setEditText("someone/my-chat-model-4bit")
    assert d.trio()[1] == "someone/my-chat-model-4bit"
    assert "size is unknown" in d.fit_label.text()
    d.pick_folder(str(tmp_path))
    assert d.trio()[1] == str(tmp_path)
    d.accept()
    assert m.trio()[1] == str(tmp_path) and str(tmp_path) in m.model_picker.model_label.full_text()


def test_screenshot_trio_dialog(qtbot, mode):
    m = mode(memory=8 * 2**30)
    d = m.open_models()
    d.set_trio("kyutai/stt-1b-en_fr-candle", "mlx-community/Qwen3-8B-4bit", "kyutai/tts-1.6b-en_fr")
    qtbot.wait(50)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert d.grab().save(str(SCREENSHOTS / "assistant-models.png"))


def test_model_manager_lists_chat_models_for_the_assistant_only(qtbot, mode):
    m = mode(installed={"mlx-community/Qwen3-1.7B-4bit"})
    shell = m.shell
    d = shell.models.open(m)
    rows = {r.spec: r for r in shell.models.rows()}
    gemma = rows["mlx-community/gemma-3-1b-it-4bit"]
    assert gemma.kind == "llm" and not gemma.installed and gemma.downloadable and gemma.size.endswith("MB")
    headings = [d.table.item(i, 0).text() for i in range(d.table.rowCount()) if d._table_rows[i] is None]
    assert any(h.startswith("Assistant · chat model (mlx-lm") for h in headings)
    d.select_spec("mlx-community/gemma-3-1b-it-4bit")
    assert d.download_button.isEnabled() and not d.use_button.isEnabled()
    assert shell.models.known_model("mlx-community/gemma-3-1b-it-4bit").size_bytes == 760_000_000
    d.select_spec("mlx-community/Qwen3-1.7B-4bit")
    assert d.use_button.isEnabled()
    d.use_button.click()
    assert m.trio()[1] == "mlx-community/Qwen3-1.7B-4bit"
    d.select_spec("kyutai/stt-1b-en_fr")  # Kyutai's STT: usable here too (not downloaded)
    assert not d.use_button.isEnabled() and d.download_button.isEnabled()
    shell.models.open(shell.mode("talk"))
    assert not [r for r in shell.models.rows() if r.kind == "llm"]
