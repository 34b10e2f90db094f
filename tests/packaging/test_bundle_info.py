"""Info.plist, entitlements and the runtime hook the macOS build uses, generated and read back."""

import plistlib
import runpy
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import bundle_info
import pytest

from moshi_mlx.errors import MoshiError

REPO = Path(__file__).resolve().parents[2]


def _load(path):
    with open(path, "rb") as f:
        return plistlib.load(f)


def test_info_plist_has_the_keys_macos_needs(tmp_path):
    assert bundle_info.main(["info-plist", str(tmp_path / "Info.plist")]) == 0
    plist = _load(tmp_path / "Info.plist")
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert plist["CFBundleIdentifier"] == "org.moshimlx.desktop" == bundle_info.BUNDLE_ID
    assert plist["CFBundleName"] == plist["CFBundleDisplayName"] == "Moshi"
    assert plist["CFBundleExecutable"] == "Moshi"
    assert plist["CFBundlePackageType"] == "APPL"
    assert plist["CFBundleShortVersionString"] == plist["CFBundleVersion"] == version
    assert plist["CFBundleIconFile"] == "Moshi.icns"
    mic = plist["NSMicrophoneUsageDescription"]
    assert "microphone" in mic and mic.endswith(".") and len(mic) > 40
    assert plist["LSMinimumSystemVersion"] == "14.0"
    assert plist["LSArchitecturePriority"] == ["arm64"]
    assert plist["LSRequiresNativeExecution"] is True
    assert plist["NSHighResolutionCapable"] is True
    assert "LSBackgroundOnly" not in plist and "LSUIElement" not in plist  # a normal Dock app


def test_entitlements_file_is_the_generated_one(tmp_path):
    assert bundle_info.main(["entitlements", str(tmp_path / "e.plist")]) == 0
    generated = _load(tmp_path / "e.plist")
    assert generated == _load(REPO / "packaging" / "entitlements.plist") == bundle_info.entitlements()
    assert generated["com.apple.security.device.audio-input"] is True
    # Only what a bundled Python with PortAudio needs; Apple: never list an entitlement as false.
    assert set(generated) == {
        "com.apple.security.device.audio-input",
        "com.apple.security.cs.allow-unsigned-executable-memory",
    }
    assert all(value is True for value in generated.values())
    assert (tmp_path / "e.plist").read_bytes().startswith(b"<?xml")  # codesign wants XML


def test_version_must_be_read_from_pyproject(tmp_path):
    assert bundle_info.project_version() == bundle_info.info_plist()["CFBundleShortVersionString"]
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\nversion = "1.0.0rc1"\n')
    with pytest.raises(MoshiError, match="pyproject.toml.*1.0.0rc1"):
        bundle_info.project_version(bad)
    with pytest.raises(MoshiError, match="missing.toml"):
        bundle_info.project_version(tmp_path / "missing.toml")
    assert bundle_info.info_plist("2.3.4")["CFBundleVersion"] == "2.3.4"


def test_minimum_macos_follows_the_mlx_wheels(monkeypatch):
    class FakeDist:
        def __init__(self, tags):
            self.tags = tags

        def read_text(self, name):
            assert name == "WHEEL"
            return "Wheel-Version: 1.0\n" + "".join(f"Tag: {t}\n" for t in self.tags)

    def installed(wheels):
        def distribution(name):
            if name not in wheels:
                raise metadata.PackageNotFoundError(name)
            return FakeDist(wheels[name])
        monkeypatch.setattr(metadata, "distribution", distribution)

    installed({"mlx": ["cp311-cp311-macosx_15_0_arm64", "cp311-cp311-macosx_14_0_arm64"],
               "mlx-metal": ["py3-none-macosx_14_0_arm64"]})
    assert bundle_info.mlx_min_macos() == "14.0"
    bundle_info.check_min_macos()
    installed({"mlx": ["cp311-cp311-macosx_14_0_arm64"], "mlx-metal": ["py3-none-macosx_15_0_arm64"]})
    assert bundle_info.mlx_min_macos() == "15.0"
    with pytest.raises(MoshiError, match="macOS 15.0"):
        bundle_info.check_min_macos()
    installed({"mlx": ["cp311-cp311-manylinux_2_35_x86_64"]})
    assert bundle_info.mlx_min_macos() is None


def test_runtime_hook_puts_app_files_in_application_support(monkeypatch, tmp_path):
    hook = REPO / "packaging" / "rthook_moshi_home.py"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MOSHI_MLX_HOME", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert runpy.run_path(str(hook))["BUNDLE_ID"] == bundle_info.BUNDLE_ID
    import os

    assert os.environ["MOSHI_MLX_HOME"] == str(tmp_path / "Library" / "Application Support" / bundle_info.BUNDLE_ID)
    monkeypatch.setenv("MOSHI_MLX_HOME", "/chosen")
    runpy.run_path(str(hook))
    assert os.environ["MOSHI_MLX_HOME"] == "/chosen"
    monkeypatch.delenv("MOSHI_MLX_HOME")
    monkeypatch.setattr(sys, "platform", "linux")
    runpy.run_path(str(hook))
    assert "MOSHI_MLX_HOME" not in os.environ
