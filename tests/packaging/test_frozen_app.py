"""Builds the app with packaging/build.sh (the same spec as Moshi.app, one folder on Linux) and runs
the frozen executable: --self-test (engine without audio devices) and a short offscreen GUI start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import verify_bundle

REPO = Path(__file__).resolve().parents[2]
IMPORT_FAILURES = ("Traceback", "ModuleNotFoundError", "ImportError", "Failed to execute script")

# One bundle build (~100 s) for the module: under pytest-xdist its tests go to one worker together.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("frozen-app")]


def _env(home: Path) -> dict:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        MOSHI_MLX_HOME=str(home / "moshi-mlx"),
        HF_HOME=str(home / "hf"),
        HF_HUB_OFFLINE="1",
    )
    env.pop("PYTHONPATH", None)  # the frozen app must need nothing from the source tree
    return env


@pytest.fixture(scope="module")
def built_app(tmp_path_factory):
    """(app folder, executable); built once for this module (~1-2 min on 2 cores)."""
    root = tmp_path_factory.mktemp("frozen")
    env = dict(os.environ, MOSHI_DIST_DIR=str(root / "dist"), MOSHI_WORK_DIR=str(root / "work"),
               MOSHI_SKIP_SELF_TEST="1", MOSHI_DMG="0", MOSHI_PYTHON=sys.executable)
    env.pop("MOSHI_CODESIGN_IDENTITY", None)
    env.pop("MOSHI_NOTARY_PROFILE", None)
    proc = subprocess.run(["bash", str(REPO / "packaging" / "build.sh")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"build.sh failed ({proc.returncode}):\n{log[-6000:]}"
    assert "OK" in log  # verify_bundle's summary line
    app = root / "dist" / ("Moshi.app" if sys.platform == "darwin" else "Moshi")
    exe, _ = verify_bundle.layout(app, sys.platform)
    return app, exe


def test_bundle_holds_mlx_rustymimi_and_only_needed_qt_plugins(built_app):
    app, _ = built_app
    report = verify_bundle.check(app)
    assert report.problems == []
    files = report.files
    assert any(f.startswith("mlx/lib/libmlx.") for f in files)
    assert not any(f.startswith("torch/") or f.endswith(".safetensors") for f in files)
    assert not any(m.split(".")[0] in ("torch", "moshi", "pytest") for m in report.modules)
    # transformers' PyTorch model code stays out; its configs and tokenizers (the Assistant's) are in
    models = [m.split(".") for m in report.modules if m.startswith("transformers.models.")]
    assert models and not any(len(p) > 3 and p[3].startswith("modeling_") and p[2] != "auto" for p in models)
    assert "transformers.models.llama.tokenization_llama" in report.modules
    assert {"moshi_app.main", "moshi_mlx.selftest", "moshi_mlx.demo"} <= report.modules
    plugins = sorted(p for p in (verify_bundle.bundle_contents.qt_plugin(f) for f in files) if p)
    assert {folder for folder, _ in plugins} <= {"platforms", "xcbglintegrations", "imageformats",
                                                  "iconengines", "styles", "permissions"}
    print(f"\nfrozen app: {report.size_mb:.0f} MB, {len(files)} files, Qt plugins {plugins}")


def test_frozen_self_test_runs_the_engine(built_app, tmp_path):
    _, exe = built_app
    proc = subprocess.run([str(exe), "--self-test"], env=_env(tmp_path), capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"--self-test exited {proc.returncode}:\n{out[-4000:]}"
    assert not any(s in out for s in IMPORT_FAILURES), out[-4000:]
    assert "self-test OK" in proc.stdout
    assert "tokens through mlx-lm" in proc.stdout  # the Assistant's chat-model path, frozen
    assert (tmp_path / "moshi-mlx").is_dir()  # the demo model went to MOSHI_MLX_HOME, not the bundle
    print("\n" + proc.stdout.strip())


def test_frozen_gui_starts_and_quits(built_app, tmp_path):
    _, exe = built_app
    shot = tmp_path / "window.png"
    proc = subprocess.run([str(exe), "--settings", str(tmp_path / "settings.ini"), "--quit-after", "2",
                           "--screenshot", str(shot)],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"the frozen app exited {proc.returncode}:\n{out[-4000:]}"
    assert not any(s in out for s in IMPORT_FAILURES), out[-4000:]
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert not image.isNull() and image.width() > 300 and image.height() > 200


def test_frozen_self_test_fails_loudly(built_app, tmp_path):
    _, exe = built_app
    env = _env(tmp_path)
    (tmp_path / "a-file").write_text("")
    env["MOSHI_MLX_HOME"] = str(tmp_path / "a-file" / "moshi")  # the demo model cannot be written
    proc = subprocess.run([str(exe), "--self-test"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "self-test FAILED" in proc.stdout and "a-file" in proc.stdout
