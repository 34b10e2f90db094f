"""MoshiVis over the network with demo-vis: `serve --image` (every conversation about the server's
picture), Kyutai's MoshiVis clients (xa_start in the URL, the picture as the first message, kind 8),
clear refusals: HTTP 400 for a bad xa_start, an error message for a bad picture, --image on a
model of another kind, a bad file before anything loads."""

import subprocess
import sys
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from PIL import Image

from moshi_mlx.engine.events import ErrorEvent, StateEvent
from moshi_mlx.serve import ChatServer, ServeOptions
from moshi_mlx.serve.probe import Prober, probe_signal
from moshi_mlx.serve.vis import IMAGE
from tests.support.events import EventLog

from .conftest import TOKEN, auth, run, wait_until, ws_url


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    d = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), np.uint8)).save(d / "server.png")
    Image.fromarray(rng.integers(0, 255, (50, 30, 3), np.uint8)).save(d / "client.jpg")
    (d / "notes.png").write_text("not a picture")
    return d


@pytest.fixture(scope="module")
def vis_server(demo_models, tmp_path_factory, pictures):
    home = demo_models.home(tmp_path_factory.mktemp("home"), "demo-vis")
    log = EventLog()
    server = ChatServer(log)
    server.start(ServeOptions(model="demo-vis", cache_dir=str(home), port=0, token=TOKEN,
                              image=str(pictures / "server.png"), max_lag_frames=25))
    assert server.wait_running(180), log.events[-5:]
    yield server
    server.stop()


async def _talk(server, query="", first: bytes | None = None, frames=6):
    """Connect (sending `first` before the handshake, as Kyutai's MoshiVis client sends its
    picture), note the conversation's image and xa_start, talk a little."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url(server, query), headers=auth()) as ws:
            if first is not None:
                await ws.send_bytes(first)
            prober = Prober(ws)
            if not await prober.handshake():
                return None, prober.result, ws.close_code
            setup = server._session.core.setup
            seen = (setup.options.get("image"), setup.xa_start, server._session.core.gen._cross_start)
            result = await prober.run(probe_signal(frames), pace=False, window=2)
            assert result.answered == frames
            return seen, result, None


def _idle(server):
    assert wait_until(lambda: server.connected is None, 20)


def test_every_conversation_is_about_the_servers_image(vis_server, pictures):
    seen, _, _ = run(_talk(vis_server))
    assert seen == (str(pictures / "server.png"), 16, 16)
    _idle(vis_server)


def test_a_moshivis_clients_own_picture(vis_server, pictures):
    data = (pictures / "client.jpg").read_bytes()
    seen, _, _ = run(_talk(vis_server, "xa_start=4&image_resolution=448", bytes([IMAGE]) + data))
    image, xa_start, start = seen
    assert image != str(pictures / "server.png") and Path(image).name.startswith("moshi-mlx-image-")
    assert (xa_start, start) == (4, 4)
    _idle(vis_server)
    assert not Path(image).exists()  # the client's copy goes with its conversation


def test_bad_requests_are_refused(vis_server, pictures):
    async def status(query):
        async with aiohttp.ClientSession() as http:
            async with http.get(ws_url(vis_server, query).replace("ws://", "http://"), headers=auth()) as r:
                return r.status, await r.text()

    code, text = run(status("xa_start=soon"))
    assert code == 400 and text.strip().count("\n") == 0 and "xa_start='soon'" in text
    seen, result, close = run(_talk(vis_server, "xa_start=16", bytes([IMAGE]) + b"not a picture"))
    assert seen is None and close == 1003
    assert any(e.startswith("the picture: not an image file") for e in result.errors), result.errors
    _idle(vis_server)
    seen, result, close = run(_talk(vis_server, "xa_start=16", bytes([1]) + b"OggS"))  # audio first
    assert seen is None and close == 1003 and any("must be the picture" in e for e in result.errors)
    _idle(vis_server)


def test_image_needs_a_moshivis_model(demo_home, pictures):
    log = EventLog()
    server = ChatServer(log)
    server.start(ServeOptions(model="demo", cache_dir=str(demo_home), port=0,
                              image=str(pictures / "server.png")))
    assert wait_until(lambda: any(isinstance(e, StateEvent) and e.state == "stopped" for e in log.events), 120)
    server.stop()
    errors = [e for e in log.events if isinstance(e, ErrorEvent)]
    assert errors and "--image" in errors[0].message and "takes no image" in errors[0].message


def test_serve_checks_the_image_file_first(demo_home, pictures):
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "serve", "--model", "demo-vis", "--cache-dir",
                        str(demo_home), "--port", "0", "--image", str(pictures / "notes.png")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "not an image file" in errors[0] and "Traceback" not in r.stderr
    assert "load model" not in r.stderr
