import asyncio
import time

import pytest

from moshi_mlx.serve import ChatServer, ServeOptions
from tests.support.events import EventLog

TOKEN = "test-token-7f3a"


def start_server(log, demo_home, model=None, **options) -> ChatServer:
    """A server on a free port of 127.0.0.1, listening with the demo model loaded."""
    server = ChatServer(log)
    options = {"model": "demo", "cache_dir": str(demo_home), "port": 0, **options}
    server.start(ServeOptions(**options), model=model)
    assert server.wait_running(180), f"server did not start: {log.events[-5:]}"
    return server


@pytest.fixture(scope="session")
def server_log():
    return EventLog()


@pytest.fixture(scope="session")
def server(server_log, demo_home):
    """One server for the whole run, with a token; the model is loaded once (other servers in the
    tests are given it: `start_server(..., model=server.model)`)."""
    # a generous lag bound: on a loaded 2-core CI machine a frame may wait a few hundred ms, and
    # these tests count every answer (the dropping itself is tested with the default bound)
    server = start_server(server_log, demo_home, token=TOKEN, max_lag_frames=25)
    yield server
    server.stop()
    assert not server.running


@pytest.fixture
def idle_server(server):
    """The shared server, checked free before and after the test (no conversation left open)."""
    assert wait_until(lambda: server.connected is None, 20), f"busy with {server.connected}"
    yield server
    assert wait_until(lambda: server.connected is None, 20), "a conversation stayed open"


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def ws_url(server, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/api/chat" + (f"?{query}" if query else "")


def auth() -> dict:
    return {"Authorization": f"Bearer {TOKEN}"}


def run(coro, timeout: float = 120.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))
