"""The model manager: rows and memory fit, download from a local fake hub (progress, cancel,
failure), disk-space check, folder import, checkpoint conversion in the background."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from moshi_mlx import hub

from .conftest import SCREENSHOTS, FakeBackend, talk, wait_for
from tests.support.fake_hub import FakeHub

TINY_REPO = "tests/tiny-mlx-q4"
TINY_FILES = {"model.q4.safetensors": os.urandom(3_000_000),
              hub.MIMI_FILE: os.urandom(1_000_000), hub.TOKENIZER_FILE: os.urandom(200_000)}


@pytest.fixture
def fake_hub(monkeypatch):
    from huggingface_hub import constants

    server = FakeHub({TINY_REPO: dict(TINY_FILES)}, chunk_size=32 * 1024).start()
    # huggingface_hub reads HF_ENDPOINT when imported: point the already-imported constants at us.
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        server.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    tiny = hub.KnownModel(TINY_REPO, "Tiny test model, 4-bit", "test", 4,
                          sum(len(v) for v in TINY_FILES.values()), tuple(TINY_FILES))
    monkeypatch.setattr(hub, "KNOWN_MODELS", hub.KNOWN_MODELS + (tiny,))
    yield server
    server.stop()


def _row(dialog, spec):
    return next(r for r in dialog.rows() if r.spec == spec)


def test_rows_list_known_models_with_size_status_and_fit(qtbot, make_app, tmp_path, monkeypatch):
    import moshi_app.controllers.models_controller as mc

    monkeypatch.setattr(mc, "total_memory_bytes", lambda: 16 * 2**30)
    c = make_app(FakeBackend(), cache_dir=str(tmp_path / "hf"))
    d = c.models.open()
    specs = [r.spec for r in d.rows()]
    for voice in ("moshiko", "moshika"):
        for q in ("q4", "q8", "bf16"):
            assert f"kyutai/{voice}-mlx-{q}" in specs
    q4, bf16, demo = (_row(d, "kyutai/moshiko-mlx-q4"), _row(d, "kyutai/moshiko-mlx-bf16"), _row(d, "demo"))
    assert q4.size == "5.2 GB" and q4.status == "Not downloaded" and not q4.installed
    assert q4.fit == "ok" and bf16.fit == "too_big" and "16 GB" in bf16.fit_text
    assert "noise" in demo.label and demo.installed
    assert "memory" in d.memory_label.text() and str(tmp_path / "hf") in d.memory_label.text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    d.select_spec("kyutai/moshiko-mlx-q4")
    d.resize(860, 560)
    qtbot.wait(50)
    assert d.grab().save(str(SCREENSHOTS / "model_manager.png"))


@pytest.mark.realtime
def test_download_shows_progress_and_can_be_cancelled_then_completes(qtbot, make_app, tmp_path, fake_hub):
    cache = str(tmp_path / "hf")
    c = make_app(FakeBackend(), cache_dir=cache)
    d = c.models.open()
    assert d.select_spec(TINY_REPO) and d.download_button.isEnabled()
    fake_hub.chunk_delay_s = 0.03  # ~1 MB/s: slow enough to watch and cancel
    qtbot.mouseClick(d.download_button, Qt.MouseButton.LeftButton)
    job = c.models.job
    assert job is not None and d.progress.isVisibleTo(d) and d.cancel_button.isVisibleTo(d)
    wait_for(qtbot, lambda: job.done > 300_000 and "left" in d.job_label.text())
    assert "MB/s" in d.job_label.text() or "KB/s" in d.job_label.text()
    assert "of 4.2 MB" in d.job_label.text()
    assert 0 < d.progress.value() < 1000
    with qtbot.waitSignal(job.finished, timeout=20_000):
        qtbot.mouseClick(d.cancel_button, Qt.MouseButton.LeftButton)
    assert job.outcome == "cancelled" and "cancelled" in d.job_label.text()
    assert not hub.is_installed(TINY_REPO, cache_dir=cache)
    assert _row(d, TINY_REPO).status == "Not downloaded" and not d.progress.isVisibleTo(d)

    fake_hub.chunk_delay_s = 0.0
    job = c.models.download(TINY_REPO)
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    assert job.outcome == "succeeded", c.messages.history
    assert hub.is_installed(TINY_REPO, cache_dir=cache)
    assert _row(d, TINY_REPO).status == "Installed"
    assert talk(c).prefs.model == TINY_REPO  # first model: chosen for the user
    assert "downloaded" in d.job_label.text()
    assert any(m == "HEAD" for m, *_ in fake_hub.requests) and any(m == "GET" for m, *_ in fake_hub.requests)
    # Offline from now on: the manager still knows what is installed, without asking the hub.
    fake_hub.stop()
    asked = len(fake_hub.requests)
    c.models.refresh()
    assert _row(d, TINY_REPO).status == "Installed" and len(fake_hub.requests) == asked


def test_download_failure_is_shown(qtbot, make_app, tmp_path, fake_hub):
    fake_hub.fail_repos.add(TINY_REPO)
    c = make_app(FakeBackend(), cache_dir=str(tmp_path / "hf"))
    job = c.models.download(TINY_REPO)
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    assert job.outcome == "failed"
    box = c.messages.last_box
    assert box.windowTitle() == "Download failed" and TINY_REPO in box.text()
    assert "failed" in c.models.dialog.job_label.text()
    assert c.models.dialog.download_button.isEnabled()  # the app keeps going


def test_disk_space_is_checked_before_downloading(qtbot, make_app, tmp_path, fake_hub, monkeypatch):
    import moshi_app.controllers.models_controller as mc

    monkeypatch.setattr(mc, "free_disk_bytes", lambda path: 100_000_000)
    c = make_app(FakeBackend(), cache_dir=str(tmp_path / "hf"))
    assert c.models.download("kyutai/moshiko-mlx-q4") is None
    box = c.messages.last_box
    assert box.windowTitle() == "Not enough disk space"
    assert "5.2 GB" in box.text() and "100.0 MB" in box.text() and str(tmp_path / "hf") in box.text()
    assert not fake_hub.requests


def test_import_folder_checks_it_and_adds_it(qtbot, make_app, tmp_path, demo_models):
    c = make_app(FakeBackend())
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    assert not c.models.import_folder(str(empty))
    box = c.messages.last_box
    assert box.windowTitle() == "Not a model folder" and "not-a-model" in box.text()
    folder = demo_models.home(tmp_path / "models", "demo") / demo_models.folder("demo").name
    assert c.models.import_folder(str(folder))
    assert str(folder) in c.settings.local_models
    d = c.models.dialog
    assert _row(d, str(folder)).status == "Local folder"
    assert d.selected_spec() == str(folder)
    qtbot.mouseClick(d.use_button, Qt.MouseButton.LeftButton)
    assert talk(c).prefs.model == str(folder)
    assert str(folder) in talk(c).page.model_picker.model_label.full_text()


def test_convert_runs_in_the_background_with_progress_and_cancel(qtbot, make_app, tmp_path):
    """The app's side of conversion (the conversion itself is tested in tests/quantize)."""
    backend = FakeBackend()
    seen_threads = []
    release = threading.Event()

    def fake_convert(source, output, bits, progress, cancel):
        seen_threads.append(threading.current_thread())
        total = 50_000_000
        for i in range(1, 101):
            if cancel.is_set():
                raise RuntimeError("conversion cancelled")
            progress(i * total // 100, total)
            time.sleep(0.01)
            if i == 30 and not release.is_set():
                release.wait(5)
        Path(output).mkdir(parents=True)
        return {"bits": bits}

    backend.convert_fn = fake_convert
    c = make_app(backend)
    job = c.models.convert(str(tmp_path / "model.safetensors"), str(tmp_path / "out1"), bits=4)
    d = c.models.dialog
    wait_for(qtbot, lambda: job.done > 0)
    assert "Converting model.safetensors" in d.job_label.text()
    assert seen_threads[0] is not threading.main_thread()
    with qtbot.waitSignal(job.finished, timeout=10_000):
        qtbot.mouseClick(d.cancel_button, Qt.MouseButton.LeftButton)
        release.set()
    assert job.outcome == "cancelled" and not (tmp_path / "out1").exists()

    job = c.models.convert(str(tmp_path / "model.safetensors"), str(tmp_path / "out2"), bits=8)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    assert job.outcome == "succeeded"
    assert str(tmp_path / "out2") in c.settings.local_models
    assert "Converted into" in d.job_label.text()


def test_convert_a_pytorch_checkpoint_for_real(qtbot, make_app, tmp_path):
    """A tiny random PyTorch release folder converted to 4 bits by moshi_quantize from the app; the
    result is a model folder the engine's resolver accepts."""
    from tests.quantize.checkpoints import tiny_config, write_release_folder

    source = tmp_path / "pytorch"
    write_release_folder(source, tiny_config())
    c = make_app(FakeBackend())
    job = c.models.convert(str(source), str(tmp_path / "converted"), bits=4)
    with qtbot.waitSignal(job.finished, timeout=120_000):
        pass
    assert job.outcome == "succeeded", c.messages.history
    assert job.total > 0 and job.done == job.total
    assert str(tmp_path / "converted") in c.settings.local_models
    assert _row(c.models.dialog, str(tmp_path / "converted")).status == "Local folder"
    hub.resolve_model(str(tmp_path / "converted"), allow_download=False)


def test_convert_failure_is_shown(qtbot, make_app, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a checkpoint")
    c = make_app(FakeBackend())
    job = c.models.convert(str(bad), str(tmp_path / "out"), bits=4)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert job.outcome == "failed"
    box = c.messages.last_box
    # the message names what is at fault: the checkpoint, or the missing file beside it
    assert box.windowTitle() == "Conversion failed"
    assert "broken.safetensors" in box.text() or str(tmp_path) in box.text(), box.text()
    assert not (tmp_path / "out").exists()
