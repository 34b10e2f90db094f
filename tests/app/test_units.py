"""The app's plain parts (transcript, rates, messages, resources, entry point) and its import rules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from moshi_app import resources
from moshi_app.jobs import RateEstimator
from moshi_app.messages import MIC_SETTINGS_PATH, for_error, memory_warning
from moshi_app.sysinfo import format_bytes, format_duration, free_disk_bytes
from moshi_app.transcript import Transcript, format_clock

APP_DIR = Path(__file__).resolve().parents[2] / "app"


def test_transcript_lines_timestamps_and_conversations():
    t = Transcript()
    assert t.add(" Hello", 0.0, 1)[0] == "conversation"
    assert t.add(" there.", 0.32, 1)[0] == "text"
    assert t.add(" How", 0.5, 1)[0] == "line"  # after a sentence end
    assert t.add(" are", 0.6, 1)[0] == "text"
    assert t.add(" you", 2.5, 1)[0] == "line"  # after a pause
    assert t.add(" Again", 0.0, 2)[0] == "conversation"
    text = t.to_text()
    assert "--- Conversation 1" in text and "--- Conversation 2" in text
    assert "[0:00] Hello there.\n[0:00] How are\n[0:02] you\n" in text
    assert "Again" in t.to_text(2) and "Hello" not in t.to_text(2)
    assert format_clock(75) == "1:15" and format_clock(3725) == "1:02:05"


def test_rate_estimator_speed_and_remaining_time():
    now = [0.0]
    r = RateEstimator(window_s=5.0, clock=lambda: now[0])
    assert r.speed() == 0 and r.remaining_s(100) is None
    for i in range(11):
        now[0] = i * 0.5
        r.update(i * 1_000_000)  # 2 MB/s
    assert r.speed() == pytest.approx(2_000_000)
    assert r.remaining_s(30_000_000) == pytest.approx(10.0)
    assert format_bytes(2_000_000) + "/s" == "2.0 MB/s"
    assert format_duration(10) == "10 s" and format_duration(130) == "2 min 10 s"
    assert format_duration(None) == "--"


def test_every_error_kind_has_a_clear_message():
    for kind in ("no_input_device", "mic_permission", "device_lost", "model_load", "out_of_memory",
                 "download", "internal", "disk_space", "convert", "import", "export", "model_kind",
                 "history", "playback"):
        m = for_error(kind, "detail X")
        assert m.title and m.text and m.advice
        assert "detail X" in m.text + m.advice
    assert MIC_SETTINGS_PATH == "System Settings > Privacy & Security > Microphone"
    assert MIC_SETTINGS_PATH in for_error("mic_permission", "").advice
    w = memory_warning("Moshiko 7B, bf16", "needs about 17 GB, too much for 8 GB")
    assert w.warning_only and "8 GB" in w.text


def test_free_disk_bytes_of_a_folder_not_created_yet(tmp_path):
    assert free_disk_bytes(tmp_path / "a" / "b") > 0


def test_icon_found_in_bundle_then_checkout_and_absent_is_fine(tmp_path, monkeypatch):
    checkout_icon = resources.icon_path()
    assert checkout_icon is not None and checkout_icon.name == "icon.svg"
    bundle = tmp_path / "bundle"
    (bundle / "assets").mkdir(parents=True)
    (bundle / "assets" / "icon.png").write_bytes(b"png")
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert resources.icon_path() == bundle / "assets" / "icon.png"
    monkeypatch.setattr(resources, "_search_dirs", lambda: [tmp_path / "nowhere"])
    assert resources.icon_path() is None


def test_app_icon_loads(qapp):
    icon = resources.app_icon()
    assert not icon.isNull() and not icon.pixmap(64, 64).isNull()


def test_no_module_of_the_app_imports_mlx():
    pattern = re.compile(r"^\s*(import mlx|from mlx)", re.M)
    offenders = [p.name for p in APP_DIR.rglob("*.py") if pattern.search(p.read_text())]
    assert not offenders


def test_opening_the_window_loads_no_mlx_and_the_engine_loads_no_qt():
    code = ("import sys\n"
            "from moshi_app.application import build\n"
            "c = build(sys.argv[1])\n"
            "c.window.show()\n"
            "assert not [m for m in sys.modules if m == 'mlx' or m.startswith('mlx.')], 'mlx loaded'\n"
            "c.window.close()\n")
    env = dict(__import__("os").environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-c", code, "/tmp/moshi-app-import-check.ini"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    code = ("import sys, moshi_mlx.engine.conversation, moshi_mlx.hub, moshi_mlx.engine.devices\n"
            "assert not [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))], 'Qt loaded'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_self_test_runs_before_any_qt_object_and_returns_its_code():
    code = ("import sys, types\n"
            "fake = types.ModuleType('moshi_mlx.selftest')\n"
            "def main(argv=None):\n"
            "    qt = [m for m in sys.modules if m.startswith('PySide6')]\n"
            "    print('qt-before-self-test:', qt)\n"
            "    return 7\n"
            "fake.main = main\n"
            "sys.modules['moshi_mlx.selftest'] = fake\n"
            "from moshi_app.main import main as app_main\n"
            "sys.exit(app_main(['--self-test']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 7, r.stderr
    assert "qt-before-self-test: []" in r.stdout


def test_smoke_run_opens_the_window_and_quits(tmp_path):
    shot = tmp_path / "smoke.png"
    env = dict(__import__("os").environ, QT_QPA_PLATFORM="offscreen",
               MOSHI_MLX_HOME=str(tmp_path / "home"))
    r = subprocess.run([sys.executable, "-m", "moshi_app", "--settings", str(tmp_path / "s.ini"),
                        "--quit-after", "1", "--screenshot", str(shot)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert shot.stat().st_size > 1000


def test_real_self_test_exits_zero(tmp_path):
    env = dict(__import__("os").environ, MOSHI_MLX_HOME=str(tmp_path / "home"))
    env.pop("QT_QPA_PLATFORM", None)  # no Qt object may be created: no display needed
    r = subprocess.run([sys.executable, "-m", "moshi_app", "--self-test"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "self-test OK" in r.stdout + r.stderr


def test_real_x11_window_under_xvfb(tmp_path):
    """The same smoke run on a real X server (xcb platform plugin, as on a Linux desktop)."""
    import shutil

    assert shutil.which("xvfb-run"), "xvfb-run missing: run scripts/install_system_deps.sh"
    shot = tmp_path / "x11.png"
    env = dict(__import__("os").environ, MOSHI_MLX_HOME=str(tmp_path / "home"))
    env.pop("QT_QPA_PLATFORM", None)
    r = subprocess.run(["xvfb-run", "-a", sys.executable, "-m", "moshi_app", "--settings",
                        str(tmp_path / "s.ini"), "--quit-after", "1.5", "--screenshot", str(shot)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert shot.stat().st_size > 1000
