"""build.sh's argument checks, which run before any (slow) PyInstaller work."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "packaging" / "build.sh"


def _run(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("MOSHI_")}
    full.update({"MOSHI_PYTHON": sys.executable, **env})
    return subprocess.run(["bash", str(BUILD)], cwd=REPO, env=full, capture_output=True, text=True,
                          timeout=60)


def test_script_parses():
    assert subprocess.run(["bash", "-n", str(BUILD)]).returncode == 0


def test_missing_python_is_named():
    proc = _run(MOSHI_PYTHON="/nonexistent/python")
    assert proc.returncode == 1 and "/nonexistent/python" in proc.stderr


def test_notarization_requires_a_signing_identity():
    proc = _run(MOSHI_NOTARY_PROFILE="moshi-notary")
    assert proc.returncode == 1 and "MOSHI_CODESIGN_IDENTITY" in proc.stderr
    assert "PyInstaller" not in proc.stdout  # refused before building anything
