"""Kyutai's own client, `python -m moshi.client` from moshi 0.2.13, unchanged, against our server,
with its microphone and speaker on the virtual PulseAudio loopback (what it plays comes back on its
input): audio goes both ways and Moshi's text arrives."""

import os
import subprocess
import sys

import pytest

from moshi_mlx.engine.events import LevelEvent, TextEvent
from moshi_mlx.serve.events import ClientEvent, SessionStatsEvent

from .conftest import TOKEN, EventLog, start_server, wait_until

pytestmark = pytest.mark.audio


def _talk(server, log, args: list[str], frames: int = 75):
    """Run Kyutai's client until the server has processed `frames` of its audio, then hang up."""
    client = subprocess.Popen([sys.executable, "-m", "moshi.client", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert wait_until(lambda: log.of(ClientEvent) or client.poll() is not None, 120), \
            "Kyutai's client never connected"
        assert client.poll() is None, client.communicate()
        assert wait_until(lambda: any(s.frames >= frames for s in log.of(SessionStatsEvent)), 60), \
            f"the server got too little audio: {log.of(SessionStatsEvent)[-1:]}"
        server.hang_up()
        out, err = client.communicate(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    return client.returncode, out, err


def test_kyutai_python_client_end_to_end(virtual_audio_device, server, demo_home):
    log = EventLog()
    # 127.0.0.1: no token needed. A generous lag bound: on a loaded CI machine the engine may fall
    # behind the client's real-time audio for a moment (dropping is tested in test_robustness.py)
    local = start_server(log, demo_home, model=server.model, max_lag_frames=25)
    try:
        code, out, err = _talk(local, log, ["--host", "127.0.0.1", "--port", str(local.port)])
    finally:
        local.stop()
    print("client stdout:", repr(out[-300:]), "\nclient stderr:", repr(err[-400:]))
    assert code == 0, err
    # (when the server hangs up, the client's microphone callback may still try to send: it says
    # "Lost connection" then, as with Kyutai's server)
    assert "connected!" in err and "All done!" in err, err
    # text arrives: what the client printed is what the server sent (after it, the client prints
    # its own send errors on stdout)
    printed = out.split("Cannot write to closing transport")[0]
    server_text = "".join(e.text for e in log.of(TextEvent))
    assert len(printed.strip()) > 10, out
    assert server_text.startswith(printed), (printed, server_text)
    # audio from the client reached the engine, in real time
    stats = log.of(SessionStatsEvent)[-1]
    assert stats.frames >= 75 and stats.frames_received >= stats.frames, stats
    assert stats.dropped_input <= 5 and stats.skipped_messages == 0, stats
    # and Moshi's audio reached the client, which played it: its microphone (the loopback) heard it
    levels = log.of(LevelEvent)
    assert max(l.output_db for l in levels) > -40
    assert max(l.input_db for l in levels[len(levels) // 2:]) > -60, "the client never played Moshi"
    changes = [e.change for e in log.of(ClientEvent)]
    assert changes == ["connected", "disconnected"], changes


def test_kyutai_python_client_with_a_token_in_its_url(virtual_audio_device, server, demo_home):
    """Kyutai's client has no token option; its --url takes one in the query (the `#` makes the
    `/api/chat` that the client appends a fragment, which is never sent)."""
    log = EventLog()
    guarded = start_server(log, demo_home, model=server.model, token=TOKEN)
    try:
        refused = subprocess.run([sys.executable, "-m", "moshi.client", "--host", "127.0.0.1",
                                  "--port", str(guarded.port)], capture_output=True, text=True,
                                 timeout=120)
        assert refused.returncode != 0 and "401" in refused.stderr
        url = f"http://127.0.0.1:{guarded.port}/api/chat?token={TOKEN}#"
        code, out, err = _talk(guarded, log, ["--url", url], frames=25)
    finally:
        guarded.stop()
    assert code == 0 and "connected!" in err, err
    assert [e.detail for e in log.of(ClientEvent)] == ["unauthorized", "", "hung up"]
