"""Who may call the server, for /api/chat and the /v1 endpoints alike: the token (Bearer, as
OpenAI's clients send their API key) off localhost, no weak token, the Host check against DNS
rebinding on a tokenless server, and no page of another site."""

import json
import socket

import openai
import pytest

from moshi_mlx.serve import ChatServer, ServeOptions, security

from .conftest import TOKEN, EventLog, start_server
from .netutil import RawWebsocket, http


@pytest.fixture(scope="module")
def lan(demo_home):
    """All addresses, a token, the conversation model and a TTS model."""
    server = start_server(EventLog(), demo_home, host="0.0.0.0", token=TOKEN, tts="demo-tts")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local(demo_home, lan):
    """127.0.0.1 without a token (the default), sharing the conversation model."""
    server = start_server(EventLog(), demo_home, model=lan.model, tts="demo-tts")
    yield server
    server.stop()


def _client(port: int, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0, timeout=60)


def test_off_localhost_the_token_is_the_api_key(lan):
    with pytest.raises(openai.AuthenticationError) as e:
        _client(lan.port, "wrong-key").models.list()
    body = e.value.response.json()["error"]
    assert body["code"] == "invalid_api_key" and body["type"] == "authentication_error"
    assert "Bearer" in body["message"]
    for path in ("/v1/models", "/v1/audio/speech", "/v1/nothing"):
        assert http(f"http://127.0.0.1:{lan.port}{path}")[0] == 401
    models = [m.id for m in _client(lan.port, TOKEN).models.list()]
    assert "demo-tts" in models and "demo" in models
    audio = _client(lan.port, TOKEN).audio.speech.create(model="tts-1", voice="echo", input="Hi.",
                                                          response_format="pcm").read()
    assert len(audio) > 0


def test_weak_tokens_are_refused_at_start():
    for token, words in (("", "empty or blank"), ("   ", "empty or blank"), (" " * 20, "empty or blank"),
                         ("+", "too short"), ("short-token", "too short"),
                         ("a token with spaces", "spaces")):
        with pytest.raises(security.ServeConfigError, match=words):
            ChatServer().start(ServeOptions(model="demo", host="0.0.0.0", port=0, token=token))
        with pytest.raises(security.ServeConfigError, match=words):  # on localhost too
            ChatServer().start(ServeOptions(model="demo", port=0, token=token))
    assert len(security.new_token()) >= security.MIN_TOKEN_CHARS
    security.check_token(TOKEN)


def test_serve_cli_refuses_a_blank_token(demo_home):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "moshi_mlx", "serve", "--model", "demo", "--cache-dir",
                        str(demo_home), "--host", "0.0.0.0", "--token", " "], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "--token: the token is empty or blank" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def _raw(port: int, path: str, host: str, extra: str = "") -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode())
        return int(s.recv(4096).split(b" ")[1])


def test_dns_rebinding_a_tokenless_server_answers_only_to_its_own_names(local):
    """A page of evil.example whose name now points at 127.0.0.1 sends Host: evil.example:PORT
    and an Origin that matches it: refused, on every endpoint; loopback names are fine."""
    port = local.port
    ws = RawWebsocket(port, headers={"Origin": f"http://evil.example:{port}"}, host=f"evil.example:{port}")
    assert ws.status == 403
    ws.sock.close()
    for path in ("/", "/v1/models", "/api/chat"):
        assert _raw(port, path, f"evil.example:{port}") == 403, path
        assert _raw(port, path, "evil.example") == 403, path
    status, _, body = http(f"http://127.0.0.1:{port}/v1/models", headers={"Host": f"rebind.test:{port}"})
    assert status == 403 and json.loads(body)["error"]["code"] == "host_not_allowed"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "127.0.0.1",
                 f"app.localhost:{port}"):
        assert _raw(port, "/v1/models", host) == 200, host
    ws = RawWebsocket(port, headers={"Origin": f"http://localhost:{port}"}, host=f"localhost:{port}")
    assert ws.status == 101 and ws.read_message() == b"\x00"
    ws.abort()
    # a page of another site may not call /v1 either (Origin checked as for /api/chat)
    assert _raw(port, "/v1/models", f"127.0.0.1:{port}", "Origin: http://evil.example\r\n") == 403


def test_with_a_token_any_host_name_may_be_used(lan):
    """Other devices reach a LAN server by names we cannot know (mac.local, an IP): the token
    guards it, not the name."""
    assert _raw(lan.port, "/v1/models", f"my-mac.local:{lan.port}",
                f"Authorization: Bearer {TOKEN}\r\n") == 200
    assert _raw(lan.port, "/v1/models", f"my-mac.local:{lan.port}") == 401
