"""Personas over the network with demo-personaplex: the server's own (--voice/--role), the one a
client's URL asks for (NVIDIA's `voice_prompt=NAME.pt&text_prompt=...`), kept prompt states (a
repeated persona starts without prefill), clear 400s for bad values, Moshi models ignoring them."""

import subprocess
import sys

import aiohttp
import pytest

from moshi_mlx.engine.events import ErrorEvent, StateEvent
from moshi_mlx.errors import MoshiError
from moshi_mlx.serve import ChatServer, ServeOptions
from moshi_mlx.serve.persona import voice_name
from moshi_mlx.serve.probe import Prober, probe_signal
from moshi_mlx.serve.protocol import QueryError
from tests.engine.conftest import EventLog

from .conftest import TOKEN, auth, run, wait_until, ws_url

PIRATE = "You are a pirate who answers every question with a sea story."


@pytest.fixture(scope="module")
def persona_server(demo_home):
    log = EventLog()
    server = ChatServer(log)
    server.start(ServeOptions(model="demo-personaplex", cache_dir=str(demo_home), port=0, token=TOKEN,
                              voice="demo-low", role=PIRATE, max_lag_frames=25))
    assert server.wait_running(180), log.events[-5:]
    yield server
    server.stop()


async def _conversation(server, query: str = "", frames: int = 8):
    """Connect, note how the conversation's persona was started, talk a little, leave."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url(server, query), headers=auth()) as ws:
            prober = Prober(ws)
            assert await prober.handshake()
            setup = server._session.core.setup  # ready before the handshake
            seen = (setup.persona.voice.name, setup.persona.role, setup.restored)
            result = await prober.run(probe_signal(frames), pace=False, window=2)
            assert result.answered == frames
            return seen


def _idle(server):
    assert wait_until(lambda: server.connected is None, 20)


def test_the_servers_persona_and_a_clients_persona(persona_server):
    # the server's persona: its prompt ran in the model's warm-up, so even the first one is restored
    assert run(_conversation(persona_server)) == ("demo-low", PIRATE, True)
    _idle(persona_server)
    query = "voice_prompt=demo-mid.pt&text_prompt=You%20are%20a%20patient%20language%20tutor."
    first = run(_conversation(persona_server, query))
    assert first == ("demo-mid", "You are a patient language tutor.", False)  # prefilled once
    _idle(persona_server)
    assert run(_conversation(persona_server, query))[2] is True  # then kept: no prefill
    _idle(persona_server)
    # only the voice: the server's role stays (an empty parameter keeps the server's value)
    assert run(_conversation(persona_server, "voice_prompt=demo-high&text_prompt=")) == \
        ("demo-high", PIRATE, False)
    _idle(persona_server)


def test_the_servers_persona_changes_for_the_next_conversations(persona_server):
    persona_server.set_persona("demo-mid", "You like tea.")
    assert run(_conversation(persona_server))[:2] == ("demo-mid", "You like tea.")
    _idle(persona_server)
    with pytest.raises(MoshiError, match="nobody"):  # checked first: the old one is kept
        persona_server.set_persona("nobody", None)
    with pytest.raises(MoshiError, match="persona prompt takes"):
        persona_server.set_persona(None, "tell me a long story " * 60)
    assert persona_server._options.persona == {"voice": "demo-mid", "role": "You like tea."}
    persona_server.set_persona("demo-low", PIRATE)
    assert run(_conversation(persona_server)) == ("demo-low", PIRATE, True)
    _idle(persona_server)


@pytest.mark.parametrize("query, words", [
    ("voice_prompt=nobody.pt", "unknown voice 'nobody'; this server has: demo-high, demo-low, demo-mid"),
    ("voice_prompt=../voices/demo-low.safetensors", "not a path"),
    ("voice_prompt=/etc/passwd", "not a path"),
    ("text_prompt=" + "tell%20me%20a%20long%20story%20" * 60, "the persona prompt takes"),
    ("text_prompt=a%00b", "control characters"),
])
def test_bad_persona_values_are_a_clear_400(persona_server, query, words):
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.get(ws_url(persona_server, query), headers=auth()) as r:
                return r.status, await r.text()

    status, text = run(scenario())
    assert status == 400 and words in text, text
    assert persona_server.connected is None


def test_voice_names_from_urls():
    assert voice_name("NATF2.pt") == voice_name("NATF2") == voice_name("NATF2.safetensors") == "NATF2"
    assert voice_name("My voice") == "My voice"
    for bad in ("", "..", "a/b", "a\\b", ".hidden", "C:x", "x" * 80):
        with pytest.raises(QueryError):
            voice_name(bad)


def test_a_moshi_server_ignores_persona_parameters(idle_server):
    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(idle_server, "voice_prompt=NATF2.pt&text_prompt=Hi"),
                                       headers=auth()) as ws:
                prober = Prober(ws)
                assert await prober.handshake()
                return (await prober.run(probe_signal(4), pace=False)).answered

    assert run(scenario()) == 4


def test_a_persona_for_a_model_without_personas_stops_the_server(server, demo_home):
    log = EventLog()
    given = ChatServer(log)
    given.start(ServeOptions(model="demo", port=0, voice="demo-low"), model=server.model)
    assert not given.wait_running(60)
    assert log.wait_for(lambda e: isinstance(e, StateEvent) and e.state == "stopped", 30)
    errors = log.of(ErrorEvent)
    assert errors and "takes no persona" in errors[0].message


@pytest.mark.parametrize("args, words", [
    (["--model", "demo", "--role", "You are a pirate."], "is a moshi model, which takes no persona"),
    (["--model", "demo-personaplex", "--voice", "nobody"], "unknown voice 'nobody'"),
])
def test_cli_persona_errors(demo_home, args, words):
    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "serve", "--cache-dir", str(demo_home),
                        "--port", "0", *args], capture_output=True, text=True, timeout=180)
    assert r.returncode == 2 and words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
