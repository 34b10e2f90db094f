"""What the spec keeps and drops: Qt plugins, translations, weights, the PyTorch reference."""

import bundle_contents
import pytest


@pytest.mark.parametrize("dest, linux, darwin", [
    ("PySide6/Qt/plugins/platforms/libqxcb.so", True, False),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True, True),  # headless runs on a Mac too
    ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", False, True),
    ("PySide6/Qt/plugins/platforms/libqwayland.so", False, False),
    ("PySide6/Qt/plugins/styles/libqmacstyle.dylib", False, True),
    ("PySide6/Qt/plugins/imageformats/libqsvg.dylib", True, True),
    ("PySide6/Qt/plugins/imageformats/libqjpeg.so", False, False),
    ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True, True),
    ("PySide6/Qt/plugins/permissions/libqdarwinmicrophonepermission.dylib", False, True),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False, False),
    ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", False, False),
    ("PySide6/Qt/plugins/tls/libqopensslbackend.so", False, False),
    ("PySide6/Qt/translations/qtbase_fr.qm", False, False),
    ("PySide6/Qt/lib/libQt6Core.so.6", True, True),
    ("mlx/lib/libmlx.dylib", True, True),
    ("mlx/lib/mlx.metallib", True, True),
    ("rustymimi/rustymimi.cpython-311-darwin.so", True, True),
    ("assets/icon.svg", True, True),
    ("models/moshiko/model.q4.safetensors", False, False),
    ("torch-2.13.0+cpu.dist-info/METADATA", False, False),
    ("moshi-0.2.13.dist-info/METADATA", False, False),
    ("moshi_mlx_desktop-0.1.0.dist-info/METADATA", True, True),
    ("mlx-0.32.4.dist-info/METADATA", True, True),
])
def test_keep(dest, linux, darwin):
    assert bundle_contents.keep(dest, "linux") is linux
    assert bundle_contents.keep(dest, "darwin") is darwin


def test_filter_toc_keeps_entries_whole():
    toc = [("PySide6/Qt/plugins/platforms/libqxcb.so", "/src/libqxcb.so", "BINARY"),
           ("PySide6/Qt/plugins/platforms/libqeglfs.so", "/src/libqeglfs.so", "BINARY"),
           ("assets/icon.svg", "/repo/assets/icon.svg", "DATA")]
    assert bundle_contents.filter_toc(toc, "linux") == [toc[0], toc[2]]


def test_pyinstaller_qt_hooks_collect_only_our_plugins(monkeypatch):
    from PyInstaller.utils.hooks import qt

    monkeypatch.setattr(qt.QtLibraryInfo, "collect_plugins", qt.QtLibraryInfo.collect_plugins)
    info = qt.get_qt_library_info("PySide6")
    everything = {p for kind in ("platforms", "platformthemes") for p, _ in info.collect_plugins(kind)}
    assert any("gtk3" in p for p in everything) or any("wayland" in p for p in everything)
    bundle_contents.restrict_qt_plugins("linux")
    bundle_contents.restrict_qt_plugins("linux")  # idempotent: no double wrapping
    kept = {dst + "/" + p.rsplit("/", 1)[1] for kind in ("platforms", "platformthemes")
            for p, dst in info.collect_plugins(kind)}
    assert kept == {"PySide6/Qt/plugins/platforms/" + name for name in
                    ("libqoffscreen.so", "libqxcb.so", "libqminimal.so")}


def test_modules_loaded_by_name_are_listed_from_the_disk():
    """mlx-lm imports a chat model's architecture and tool parser by name: the spec lists them."""
    parsers = bundle_contents.modules_in("mlx_lm.tool_parsers")
    assert {"mlx_lm.tool_parsers.json_tools", "mlx_lm.tool_parsers.mistral"} <= set(parsers)
    models = bundle_contents.modules_in("mlx_lm.models")
    assert {"mlx_lm.models.llama", "mlx_lm.models.qwen3"} <= set(models)
    assert not any(m.endswith("__init__") for m in parsers + models)
    assert bundle_contents.modules_in("no_such_package.models") == []


def test_transformers_keeps_configs_and_tokenizers_and_drops_model_code():
    unused = set(bundle_contents.transformers_unused())
    assert "transformers.models.llama.modeling_llama" in unused
    assert "transformers.models.qwen2.modeling_qwen2" in unused
    assert not any(m.split(".")[3].startswith(("configuration_", "tokenization_")) for m in unused)
    assert not any(m.startswith("transformers.models.auto.") for m in unused)
