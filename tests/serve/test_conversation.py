"""Conversations over the websocket with the demo model: handshake, audio both ways, text, latency,
sampling from the URL, a clean state per connection, one conversation at a time."""

import aiohttp
import numpy as np
import pytest

from moshi_mlx.engine.events import LevelEvent, TextEvent
from moshi_mlx.serve import ServeOptions, protocol
from moshi_mlx.serve.events import ClientEvent, SessionStatsEvent
from moshi_mlx.serve.probe import Prober, probe, probe_signal
from moshi_mlx.serve.chat_route import BUSY_MESSAGE, CLOSE_TRY_AGAIN

from .conftest import TOKEN, auth, run, wait_until, ws_url


@pytest.mark.realtime
def test_conversation_audio_both_ways_text_and_latency(idle_server, server_log):
    before = len(server_log.events)
    result = run(probe(ws_url(idle_server), seconds=3.0, token=TOKEN))
    summary = result.summary()
    print("paced probe:", summary)
    assert result.errors == []
    assert result.sent == 38 and result.answered == result.sent, summary
    assert len(result.text) > 10  # the demo's random words
    # every 80 ms frame answered: the answer comes well within real time on the demo model
    assert 0 < summary["median_ms"] < 400, summary
    assert wait_until(lambda: idle_server.connected is None, 20)
    events = server_log.events[before:]
    clients = [e for e in events if isinstance(e, ClientEvent)]
    assert [c.change for c in clients] == ["connected", "disconnected"]
    assert clients[0].peer == "127.0.0.1" and clients[1].detail == "client left"
    session = clients[0].session
    texts = [e for e in events if isinstance(e, TextEvent)]
    assert texts and all(t.conversation == session for t in texts)
    assert "".join(t.text for t in texts).startswith(result.text)  # the last may come after
    levels = [e for e in events if isinstance(e, LevelEvent)]
    assert len(levels) == result.sent
    assert max(l.input_db for l in levels) > -30 and max(l.output_db for l in levels) > -60
    stats = [e for e in events if isinstance(e, SessionStatsEvent)]
    assert len(stats) >= 2 and stats[-1].session == session
    last = stats[-1]
    assert last.frames <= last.frames_received <= result.sent
    assert 0 < last.real_time_factor < 1 and last.dropped_input == last.dropped_output == 0
    assert 0 < last.server_latency_ms < 400


async def _session(server, query: str, frames: int = 40):
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url(server, query), headers=auth()) as ws:
            prober = Prober(ws, keep_audio=True)
            assert await prober.handshake()
            result = await prober.run(probe_signal(frames), pace=False, window=2)
            return result, np.concatenate(prober.audio)


def test_url_sampling_and_clean_state_per_connection(idle_server):
    """Kyutai's web UI's parameters are applied (its seeds make a conversation reproducible), and
    every connection starts from a clean state: the same seeds give the same conversation."""
    query = ("text_temperature=0.7&text_topk=25&audio_temperature=0.8&audio_topk=250&pad_mult=0"
             "&text_seed=11&audio_seed=22&repetition_penalty_context=64&repetition_penalty=1")
    first, audio1 = run(_session(idle_server, query))
    second, audio2 = run(_session(idle_server, query))
    other, audio3 = run(_session(idle_server, query.replace("audio_seed=22", "audio_seed=23")))
    assert first.answered == second.answered == other.answered == 40
    # (the text of the last frame may come after its audio, when the client has stopped listening)
    assert first.text and (first.text.startswith(second.text) or second.text.startswith(first.text))
    assert len(first.text) > 20 and abs(len(first.text) - len(second.text)) <= 8
    assert np.array_equal(audio1, audio2)
    assert other.text != first.text or not np.array_equal(audio1, audio3)
    greedy1, g_audio1 = run(_session(idle_server, "text_temperature=0&audio_temperature=0"))
    greedy2, g_audio2 = run(_session(idle_server, "text_temperature=0&audio_temperature=0&text_seed=5"))
    assert np.array_equal(g_audio1, g_audio2)  # argmax: the seed makes no difference


def test_bad_query_parameter_is_a_clear_400(idle_server, server_log):
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.get(ws_url(idle_server, "text_topk=many"), headers=auth()) as r:
                return r.status, await r.text()

    status, text = run(scenario())
    assert status == 400 and "text_topk='many' is not a number" in text
    assert server_log.of(ClientEvent)[-1].detail == "bad request"


@pytest.mark.realtime
def test_second_client_is_told_the_server_is_busy(idle_server, server_log):
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(idle_server), headers=auth()) as first:
                assert (await first.receive(30)).data == protocol.handshake()
                async with http.ws_connect(ws_url(idle_server), headers=auth()) as second:
                    got = [await second.receive(10) for _ in range(3)]
                # the first conversation goes on
                prober = Prober(first)
                result = await prober.run(probe_signal(5), pace=False)
            async with http.ws_connect(ws_url(idle_server), headers=auth()) as third:
                assert (await third.receive(30)).data == protocol.handshake()
            return got, result

    got, result = run(scenario())
    assert got[0].data == protocol.error_message(BUSY_MESSAGE)
    assert got[1].data == protocol.text_message(f"[{BUSY_MESSAGE}]")
    assert got[2].type == aiohttp.WSMsgType.CLOSE and got[2].data == CLOSE_TRY_AGAIN
    assert got[2].extra == "busy"
    assert result.answered == 5
    refused = [e for e in server_log.of(ClientEvent) if e.change == "refused"]
    assert refused[-1].detail == "busy"


def _closed_by(server, action, headers: dict | None = None):
    """Start a conversation, call `action()`, return the message that ends it on the client."""
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(server), headers=headers or {}) as ws:
                assert (await ws.receive(30)).data == protocol.handshake()
                action()
                while True:
                    msg = await ws.receive(30)
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        return msg

    return run(scenario())


def test_hang_up_ends_the_conversation_not_the_server(idle_server):
    msg = _closed_by(idle_server, idle_server.hang_up, auth())
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.extra == "hung up"
    assert run(probe(ws_url(idle_server), seconds=0.5, token=TOKEN)).answered == 6


def test_a_held_server_refuses_clients_with_the_reason_and_hold_fails_during_a_conversation(
        idle_server, server_log):
    """The app holds the server while its own session uses the MLX worker (app/sharing.py)."""
    reason = "Moshi is in use on this Mac; try again later."

    async def refused():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(idle_server), headers=auth()) as ws:
                return [await ws.receive(10) for _ in range(3)]

    async def hold_while_talking():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(idle_server), headers=auth()) as ws:
                assert (await ws.receive(30)).data == protocol.handshake()
                return idle_server.hold(reason)

    assert idle_server.hold(reason)
    try:
        got = run(refused())
    finally:
        idle_server.release()
    assert got[0].data == protocol.error_message(reason)
    assert got[2].type == aiohttp.WSMsgType.CLOSE and got[2].extra == "held"
    assert server_log.of(ClientEvent)[-1].detail == "held"
    assert not run(hold_while_talking())  # a device is talking: the app's session must wait
    assert wait_until(lambda: idle_server.connected is None, 20)
    assert run(probe(ws_url(idle_server), seconds=0.3, token=TOKEN)).answered > 0  # released


@pytest.mark.parametrize("query", ["", "text_temperature=0.5"])
def test_probe_cli_reports_latency(idle_server, query, capsys):
    from moshi_mlx.serve.probe import main

    assert main([ws_url(idle_server, query), "--seconds", "0.8", "--window", "2",
                 "--token", TOKEN]) == 0
    out = capsys.readouterr().out
    assert '"answered": 10' in out and '"median_ms"' in out
    assert main([ws_url(idle_server), "--seconds", "0.5", "--token", "wrong"]) == 2


def test_stop_closes_the_conversation_and_a_restart_keeps_the_model(demo_home):
    from moshi_mlx.engine.events import ProgressEvent, StateEvent

    from .conftest import EventLog, start_server

    log = EventLog()
    own = start_server(log, demo_home)
    model = own.model
    assert [e.done for e in log.of(ProgressEvent) if e.job == "load model"] == [0, 1, 2, 3]

    msg = _closed_by(own, own.stop)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001 and msg.extra == "server stopping"
    assert not own.running and own.connected is None
    assert [e.state for e in log.of(StateEvent)][-2:] == ["stopping", "stopped"]
    assert log.of(ClientEvent)[-1].detail == "server stopping"
    # the same model again: served at once, nothing loaded
    loads = len(log.of(ProgressEvent))
    own.start(ServeOptions(model="demo", cache_dir=str(demo_home), port=0))
    try:
        assert own.wait_running(60) and own.model is model
        assert len(log.of(ProgressEvent)) == loads
        assert run(probe(ws_url(own), seconds=0.4, pace=False)).answered == 5
    finally:
        own.stop()


def test_clients_are_told_while_the_model_loads(demo_home, monkeypatch):
    import threading

    from moshi_mlx.serve import ChatServer
    from moshi_mlx.serve.security import ServeConfigError

    from .conftest import EventLog

    release = threading.Event()
    real_load = ChatServer._load_on_worker

    def slow_load(self, options, cancel):
        release.wait(60)
        return real_load(self, options, cancel)

    monkeypatch.setattr(ChatServer, "_load_on_worker", slow_load)
    log = EventLog()
    own = ChatServer(log)
    for bad, words in (({"port": 70000}, "from 0 to 65535"), ({"max_lag_frames": 0}, "at least 1")):
        with pytest.raises(ServeConfigError, match=words):
            own.start(ServeOptions(model="demo", **bad))
    own.start(ServeOptions(model="demo", cache_dir=str(demo_home), port=0))
    try:
        assert wait_until(lambda: own.port is not None, 30)

        async def early():
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(ws_url(own)) as ws:
                    return [await ws.receive(10) for _ in range(3)]

        got = run(early())
        assert got[0].data == protocol.error_message("The model is still loading; try again in a moment.")
        assert got[2].type == aiohttp.WSMsgType.CLOSE and got[2].extra == "loading"
        release.set()
        assert own.wait_running(60)
        assert run(probe(ws_url(own), seconds=0.4, pace=False)).answered == 5
    finally:
        release.set()
        own.stop()
