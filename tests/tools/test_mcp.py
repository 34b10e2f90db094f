"""MCP servers through the ToolBox, with a real stdio server written with the SDK
(tests/tools/server_demo.py): listing, policies, timeouts, crashes, floods, malformed output,
environment isolation, text that tries to approve a call, bad config files."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from moshi_mlx.tools import ToolBox, ToolsError

SERVER = str(Path(__file__).with_name("server_demo.py"))
SECRET = "MOSHI_TOOLS_TEST_SECRET"


def write_config(path, servers):
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def demo_entry(**extra):
    return {"command": sys.executable, "args": [SERVER], "env": {"FROM_CONFIG": "yes"}, **extra}


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mcp")
    config = write_config(tmp / "mcp.json", {"demo": demo_entry(),
                                             "broken": {"command": str(tmp / "no-such-server")}})
    os.environ[SECRET] = "hunter2"  # set in our environment before the server starts
    notices = []
    try:
        b = ToolBox(mcp_config=config, data_dir=tmp, timeout_s=1.5, max_result_chars=5000,
                    on_notice=notices.append)
    finally:
        del os.environ[SECRET]
    b.notices = notices
    yield b
    b.close()


def call(box, tool, cancel=None, **args):
    return box.call(tool, args, cancel or threading.Event())


def test_tools_listed_with_sources_and_default_policies(box):
    info = {t.name: t for t in box.tools()}
    assert info["add"].source == "mcp:demo" and info["add"].description == "Add two numbers."
    assert info["add"].policy == "allow" and info["add"].read_only  # readOnlyHint
    assert info["delete_everything"].policy == "ask" and box.needs_consent("delete_everything")
    assert not box.needs_consent("add")
    # the server's "calculator" clashes with the built-in: namespaced, the built-in stays
    assert info["calculator"].source == "built-in" and info["demo__calculator"].source == "mcp:demo"
    assert call(box, "demo__calculator", expression="1").text == "server calculator: 1"
    assert call(box, "calculator", expression="1+1").text == "1+1 = 2"
    states = {s.name: s for s in box.servers()}
    assert states["demo"].state == "started" and states["demo"].tools == 10
    assert states["broken"].state == "failed" and "no-such-server" in states["broken"].error
    assert any("'broken' failed to start" in n for n in box.notices)
    schema = {s["function"]["name"]: s["function"] for s in box.schemas()}
    assert schema["add"]["parameters"]["properties"].keys() == {"a", "b"}
    assert box.question("delete_everything", {"confirm": True}) == "May I use delete_everything from demo with confirm=true?"


def test_call_and_error_results(box):
    assert call(box, "add", a=2, b=40).text == "42"
    r = call(box, "fails")
    assert r.is_error and "fails" in r.text
    assert call(box, "add", a="two").is_error  # the server's own validation, as an error result


def test_slow_tool_times_out_and_the_server_goes_on(box):
    t0 = time.monotonic()
    r = call(box, "slow", seconds=30)
    assert r.is_error and "did not answer within 1.5 s" in r.text
    assert time.monotonic() - t0 < 5
    assert call(box, "add", a=1, b=1).text == "2"


def test_cancel_event_stops_a_call(box):
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    t0 = time.monotonic()
    r = call(box, "slow", cancel, seconds=30)
    assert r.is_error and "cancelled" in r.text and time.monotonic() - t0 < 1.2


def test_flood_is_capped(box):
    r = call(box, "flood", size=2_000_000)
    assert not r.is_error and r.text.startswith("xxxx") and len(r.text) < 5100
    assert "[result cut: 2000000 characters in all, 5000 kept]" in r.text


def test_text_from_a_tool_approves_nothing(box):
    before = box.policies()
    r = call(box, "sneaky")
    assert "approved" in r.text and not r.is_error
    assert box.needs_consent("delete_everything") and box.policies() == before
    assert {t.name: t.policy for t in box.tools()}["delete_everything"] == "ask"


def test_server_environment_is_an_allow_list(box):
    assert call(box, "env_get", name=SECRET).text == "<unset>"
    assert call(box, "env_get", name="FROM_CONFIG").text == "yes"
    assert call(box, "env_get", name="PATH").text == os.environ["PATH"]


def test_garbage_on_stdout_does_not_break_the_session(box):
    assert call(box, "garbage").text == "answered after garbage"
    assert call(box, "add", a=3, b=4).text == "7"


def test_crash_gives_an_error_result_and_one_line(tmp_path):
    config = write_config(tmp_path / "mcp.json", {"demo": demo_entry()})
    notices = []
    with ToolBox(mcp_config=config, data_dir=tmp_path, select=["demo", "get_time"], timeout_s=5,
                 on_notice=notices.append) as b:
        names = sorted(s["function"]["name"] for s in b.schemas())
        assert "get_time" in names and "add" in names and "calculator" not in names
        r = call(b, "crash")
        assert r.is_error and "failed" in r.text
        assert [n for n in notices if "'demo' stopped" in n]
        assert {s.name: s.state for s in b.servers()}["demo"] == "failed"
        t0 = time.monotonic()
        r = call(b, "add", a=1, b=2)
        assert r.is_error and "unavailable" in r.text and time.monotonic() - t0 < 0.5
        assert call(b, "get_time").text  # the built-ins go on
        assert b.restart_server("demo").state == "started"
        assert call(b, "add", a=1, b=2).text == "3" and "add" in {s["function"]["name"] for s in b.schemas()}


@pytest.mark.parametrize("content,message", [
    ("{not json", "not a readable JSON file"),
    ("[]", "expected a JSON object"),
    ('{"servers": {}}', "no 'mcpServers' key"),
    ('{"mcpServers": []}', "'mcpServers' must be an object"),
    ('{"mcpServers": {"a": "python"}}', "mcpServers.a: must be an object"),
    ('{"mcpServers": {"a": {}}}', "mcpServers.a: give either 'command'"),
    ('{"mcpServers": {"a": {"command": "x", "url": "https://e.com"}}}', "mcpServers.a: give either"),
    ('{"mcpServers": {"a": {"command": ""}}}', "mcpServers.a.command: must be a non-empty string"),
    ('{"mcpServers": {"a": {"command": "x", "args": "-v"}}}', "mcpServers.a.args: must be a list of strings"),
    ('{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}', "mcpServers.a.env: must be an object of strings"),
    ('{"mcpServers": {"a": {"url": "ftp://e.com"}}}', "mcpServers.a.url: must be an http"),
    ('{"mcpServers": {"a": {"url": "https://e.com", "headers": []}}}', "mcpServers.a.headers"),
    ('{"mcpServers": {"a": {"url": "https://e.com", "type": "ws"}}}', "mcpServers.a.type"),
    ('{"mcpServers": {"a b": {"command": "x"}}}', "mcpServers.a b: a server name"),
])
def test_bad_config_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ToolsError) as e:
        ToolBox(mcp_config=path)
    assert str(path) in str(e.value) and message in str(e.value) and "\n" not in str(e.value)


def test_missing_config_and_disabled_servers(tmp_path):
    with pytest.raises(ToolsError, match="no such file"):
        ToolBox(mcp_config=tmp_path / "none.json")
    config = write_config(tmp_path / "mcp.json", {"off": {"command": "x", "disabled": True}})
    with ToolBox(mcp_config=config) as b:
        assert b.servers() == [] and all(t.source == "built-in" for t in b.tools())


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_remote_server_with_headers(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("server_http.py")), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # until the server listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
                time.sleep(0.1)
        config = write_config(tmp_path / "mcp.json", {
            "remote": {"url": f"http://127.0.0.1:{port}/mcp", "headers": {"Authorization": "Bearer t0ken"}},
            "down": {"url": "http://127.0.0.1:9/mcp"}})
        with ToolBox(mcp_config=config, data_dir=tmp_path, timeout_s=5) as b:
            states = {s.name: s for s in b.servers()}
            assert states["remote"].state == "started" and states["down"].state == "failed"
            assert "ConnectError" in states["down"].error
            assert call(b, "whoami").text == "Bearer t0ken"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.realtime
def test_server_that_never_answers_fails_to_start(tmp_path):
    config = write_config(tmp_path / "mcp.json", {
        "mute": {"command": sys.executable, "args": ["-c", "import sys, time; print('starting', file=sys.stderr); time.sleep(60)"]}})
    t0 = time.monotonic()
    with ToolBox(mcp_config=config, data_dir=tmp_path, start_timeout_s=1.0) as b:
        (state,) = b.servers()
        assert state.state == "failed" and "no answer in time" in state.error and "starting" in state.error
        assert time.monotonic() - t0 < 10
