"""`python -m moshi_mlx tools list|call` as a subprocess, and the assistant's tool options."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moshi_mlx.tools import ToolsError, add_tool_arguments, toolbox_from_args

ROOT = Path(__file__).resolve().parents[2]
SERVER = str(Path(__file__).with_name("server_demo.py"))


def run(*argv, env=None, stdin=subprocess.DEVNULL):
    return subprocess.run([sys.executable, "-m", "moshi_mlx", "tools", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, stdin=stdin, env={**os.environ, **(env or {})})


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {
        "demo": {"command": sys.executable, "args": [SERVER]},
        "broken": {"command": sys.executable, "args": ["-c", "import sys; sys.exit('no token given')"]}}}))
    return path


def test_list_with_servers(config, tmp_path):
    p = run("list", "--mcp-config", str(config), "--data-dir", str(tmp_path))
    assert p.returncode == 0, p.stderr
    rows = {line.split()[0]: line.split()[1:3] for line in p.stdout.splitlines() if not line.startswith("MCP server")}
    assert rows["calculator"] == ["built-in", "allow"] and rows["open_url"] == ["built-in", "ask"]
    assert rows["add"] == ["mcp:demo", "allow"] and rows["delete_everything"] == ["mcp:demo", "ask"]
    assert "MCP server demo: started, 10 tools" in p.stdout
    failed = [line for line in p.stdout.splitlines() if line.startswith("MCP server broken: failed:")]
    assert len(failed) == 1 and "no token given" in failed[0]


def test_call_builtin_and_errors(tmp_path):
    p = run("call", "calculator", '{"expression": "2+2"}', "--data-dir", str(tmp_path))
    assert (p.returncode, p.stdout) == (0, "2+2 = 4\n")
    p = run("call", "calculator", '{"expression": "2**99999"}', "--data-dir", str(tmp_path))
    assert p.returncode == 1 and "too large" in p.stdout
    p = run("call", "calculator", "{bad", "--data-dir", str(tmp_path))
    assert p.returncode == 2 and p.stderr.startswith("error: ARGUMENTS: not valid JSON")
    p = run("call", "nope", "--data-dir", str(tmp_path))
    assert p.returncode == 2 and "no tool named 'nope'" in p.stderr
    p = run("list", "--mcp-config", str(tmp_path / "missing.json"))
    assert p.returncode == 2 and p.stderr.strip() == f"error: {tmp_path / 'missing.json'}: no such file"


def test_call_consent_on_the_command_line(config, tmp_path):
    notes = tmp_path / "notes.md"
    common = ["--data-dir", str(tmp_path), "--notes", str(notes)]
    p = run("call", "save_note", '{"text": "hi"}', *common)  # stdin not a terminal: refused
    assert p.returncode == 2 and "asks for consent" in p.stderr and "--yes" in p.stderr and not notes.exists()
    p = run("call", "save_note", '{"text": "hi"}', "--yes", *common)
    assert p.returncode == 0 and "hi" in notes.read_text()
    p = run("call", "add", '{"a": 1, "b": 2}', "--mcp-config", str(config), *common)
    assert (p.returncode, p.stdout) == (0, "3\n")
    p = run("call", "slow", '{"seconds": 30}', "--timeout", "0.5", "--mcp-config", str(config), *common)
    assert p.returncode == 1 and "did not answer within 0.5 s" in p.stdout


def test_call_asks_on_a_terminal(tmp_path):
    import pty  # POSIX (macOS, Linux): a real terminal on stdin

    notes = tmp_path / "notes.md"
    for answer, code in ((b"n\n", 1), (b"y\n", 0)):
        parent, child = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "moshi_mlx", "tools", "call", "save_note", '{"text": "pty"}',
                                 "--data-dir", str(tmp_path), "--notes", str(notes)], cwd=ROOT, stdin=child,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(child)
        os.write(parent, answer)
        out, err = proc.communicate(timeout=60)
        os.close(parent)
        assert proc.returncode == code, err
        assert b"May I save this note: pty? [y/N]" in out
    assert notes.read_text().count("pty") == 1


def test_assistant_options(tmp_path):
    parser = argparse.ArgumentParser()
    add_tool_arguments(parser)
    help_text = parser.format_help()
    assert "--mcp-config FILE" in help_text and "--tools all|none|NAME,..." in help_text and "--allow NAME,..." in help_text
    assert toolbox_from_args(parser.parse_args(["--tools", "none"])) is None
    args = parser.parse_args(["--tools", "calculator,open_url", "--allow", "open_url"])
    args.record_dir, args.data_dir = str(tmp_path / "rec"), str(tmp_path)
    box = toolbox_from_args(args, clock=lambda: 0.0)
    try:
        assert sorted(s["function"]["name"] for s in box.schemas()) == ["calculator", "open_url"]
        assert not box.needs_consent("open_url") and box.needs_consent("save_note")
    finally:
        box.close()
    for argv, message in ((["--allow", "nope"], "--allow: no tool named 'nope'"),
                          (["--tools", "nope"], "--tools: no tool or MCP server named 'nope'"),
                          (["--allow", "all"], "--allow: name the tools one by one"),
                          (["--tools", "all,calculator"], "--tools: give all, none, or a list of names")):
        args = parser.parse_args(argv)
        args.data_dir = str(tmp_path)
        with pytest.raises(ToolsError, match=message):
            toolbox_from_args(args)


def test_no_qt_no_mlx_and_light_import():
    code = ("import sys, moshi_mlx.tools, moshi_mlx.tools.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlx', 'PySide6', 'mcp', 'moshi_app'}))")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "[]", p.stderr  # the MCP SDK is imported only when servers are configured
