"""The security model: localhost by default, a token for anything else (constant-time, 401), the
cookie for Kyutai's web UI, no cross-site pages, TLS, and never a file outside --static."""

import json
import os
import shutil
import socket
import ssl
import subprocess

import aiohttp
import pytest

from moshi_mlx.engine.events import ErrorEvent, StateEvent
from moshi_mlx.serve import ChatServer, ServeOptions, security
from moshi_mlx.serve.probe import probe

from .conftest import TOKEN, EventLog, auth, run, start_server, wait_until, ws_url

SECRET = "top secret: outside the static folder"


def test_loopback_needs_no_token_other_addresses_do():
    assert security.is_loopback("127.0.0.1") and security.is_loopback("::1")
    assert security.is_loopback("localhost") and security.is_loopback("127.3.4.5")
    assert not security.is_loopback("0.0.0.0") and not security.is_loopback("192.168.1.5")
    assert security.exposure_warnings("127.0.0.1", None, False) == []
    for host in ("0.0.0.0", "::", "192.168.1.5", "mac.local"):
        with pytest.raises(security.ServeConfigError, match="--token"):
            security.exposure_warnings(host, None, True)
    warnings = security.exposure_warnings("0.0.0.0", "s3cret-s3cret-s3cret", False)
    assert len(warnings) == 1 and warnings[0].startswith("WARNING") and "--ssl" in warnings[0]
    assert security.exposure_warnings("0.0.0.0", "s3cret-s3cret-s3cret", True) == []


def test_token_comparison_is_hmac_compare_digest(monkeypatch):
    calls = []
    real = security.hmac.compare_digest
    monkeypatch.setattr(security.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert security.token_matches("abc", "abc")
    assert not security.token_matches("abd", "abc") and not security.token_matches(None, "abc")
    assert not security.token_matches("é", "abc")
    assert len(calls) == 4  # every comparison, whatever the input
    assert len(security.new_token()) >= 24 and security.new_token() != security.new_token()


@pytest.fixture
def static_tree(tmp_path):
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<p>index</p>")
    (root / "sub" / "app.js").write_text("console.log('app')")
    (root / "sub" / "index.html").write_text("<p>sub index</p>")
    (root / ".hidden").write_text(SECRET)
    (tmp_path / "secret.txt").write_text(SECRET)
    os.symlink(tmp_path / "secret.txt", root / "link-out")
    os.symlink(tmp_path, root / "dir-out")
    os.symlink(root / "sub" / "app.js", root / "link-in.js")
    return root


def test_static_file_resolution(static_tree):
    root = security.static_root(static_tree)
    assert security.static_file(root, "/") == root / "index.html"
    assert security.static_file(root, "/sub/") == root / "sub" / "index.html"
    assert security.static_file(root, "/sub/app.js") == root / "sub" / "app.js"
    assert security.static_file(root, "/link-in.js") == root / "sub" / "app.js"
    for bad in ("/../secret.txt", "/sub/../../secret.txt", "/link-out", "/dir-out/secret.txt",
                "/.hidden", "/sub/./app.js", "/..\\secret.txt", "/sub//app.js", "/nope",
                "/index.html\0.js", "/" + str(static_tree.parent / "secret.txt")):
        assert security.static_file(root, bad) is None, bad
    with pytest.raises(security.ServeConfigError, match="not a folder"):
        security.static_root(static_tree / "index.html")


def _raw_get(port: int, target: str, headers: dict | None = None) -> tuple[int, bytes]:
    """A GET with the request target exactly as given (HTTP clients normalise `..` away)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
                  "Connection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_no_file_outside_static_is_ever_served(server, static_tree, demo_home):
    log = EventLog()
    web = start_server(log, demo_home, model=server.model, token=TOKEN, static_dir=str(static_tree))
    try:
        h = auth()
        assert _raw_get(web.port, "/", h) == (200, b"<p>index</p>")
        assert _raw_get(web.port, "/sub/app.js", h) == (200, b"console.log('app')")
        assert _raw_get(web.port, "/sub/", h) == (200, b"<p>sub index</p>")
        attacks = ["/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt",
                   "/sub/../../secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt", "/..%5csecret.txt",
                   "/link-out", "/dir-out/secret.txt", "/.hidden", "/%2ehidden",
                   "//" + str(static_tree.parent / "secret.txt").lstrip("/"),
                   "/" + str(static_tree.parent / "secret.txt"), "/sub/..%252f..%252fsecret.txt",
                   "/%00../secret.txt", "/....//secret.txt", "/sub/..;/..;/secret.txt"]
        for target in attacks:
            status, body = _raw_get(web.port, target, h)
            assert SECRET.encode() not in body, target
            assert status in (400, 403, 404), (target, status)
        assert _raw_get(web.port, "/sub/app.js")[0] == 401  # no token: not even the web UI
    finally:
        web.stop()


def test_token_by_header_query_or_cookie_and_401_otherwise(idle_server, server_log):
    async def scenario():
        # unsafe=True: aiohttp's jar otherwise ignores cookies of IP-address hosts (browsers keep them)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            statuses = {}
            for name, url, headers in (
                    ("none", ws_url(idle_server), {}),
                    ("wrong", ws_url(idle_server), {"Authorization": "Bearer nope"}),
                    ("wrong query", ws_url(idle_server, "token=nope"), {}),
                    ("prefix", ws_url(idle_server, f"token={TOKEN[:-1]}"), {})):
                try:
                    async with http.ws_connect(url, headers=headers):
                        statuses[name] = 101
                except aiohttp.WSServerHandshakeError as e:
                    statuses[name] = e.status
            async with http.get(f"http://127.0.0.1:{idle_server.port}/") as r:
                statuses["page"] = r.status
                assert "token" in await r.text()
            for url in (ws_url(idle_server, f"token={TOKEN}"),):
                async with http.ws_connect(url) as ws:
                    statuses["query"] = (await ws.receive(30)).data
            # a browser opens /?token=..., keeps the cookie, and its web UI's websocket gets in
            async with http.get(f"http://127.0.0.1:{idle_server.port}/?token={TOKEN}") as r:
                statuses["page with token"] = r.status
                cookie = r.cookies[security.COOKIE]
                assert cookie.value == TOKEN and cookie["httponly"] and cookie["samesite"] == "Strict"
            async with http.ws_connect(ws_url(idle_server)) as ws:  # the session's cookie jar
                statuses["cookie"] = (await ws.receive(30)).data
            return statuses

    statuses = run(scenario())
    assert statuses == {"none": 401, "wrong": 401, "wrong query": 401, "prefix": 401, "page": 401,
                        "query": b"\x00", "page with token": 200, "cookie": b"\x00"}
    assert [e.detail for e in server_log.events[-20:] if getattr(e, "change", "") == "refused"][-5:] \
        == ["unauthorized"] * 5


def test_pages_of_other_sites_cannot_open_a_conversation(idle_server):
    async def connect(origin):
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(ws_url(idle_server), headers={**auth(), "Origin": origin}) as ws:
                    return (await ws.receive(30)).data
            except aiohttp.WSServerHandshakeError as e:
                return e.status

    assert run(connect(f"http://127.0.0.1:{idle_server.port}")) == b"\x00"
    assert run(connect("http://evil.example")) == 403
    assert run(connect(f"http://127.0.0.1:{idle_server.port + 1}")) == 403
    assert run(connect("null")) == 403


def test_other_addresses_need_a_token_and_warn_without_tls(server, demo_home):
    with pytest.raises(security.ServeConfigError, match="--token"):
        ChatServer().start(ServeOptions(model="demo", host="0.0.0.0", port=0))
    log = EventLog()
    lan = start_server(log, demo_home, model=server.model, host="0.0.0.0", token=TOKEN)
    try:
        assert lan.warnings and "plain HTTP" in lan.warnings[0]
        assert lan.urls and all(u.startswith("http://") and u.endswith(f":{lan.port}") for u in lan.urls)
        assert lan.browser_url(lan.urls[0]) == f"{lan.urls[0]}/?token={TOKEN}"
        assert _raw_get(lan.port, "/api/chat")[0] == 401
        assert run(probe(f"ws://127.0.0.1:{lan.port}/api/chat", 0.4, token=TOKEN)).answered == 5
    finally:
        lan.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a test certificate")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return folder


def test_tls(server, demo_home, certificate, tmp_path):
    log = EventLog()
    secure = start_server(log, demo_home, model=server.model, ssl_dir=str(certificate))
    try:
        assert secure.urls == [f"https://127.0.0.1:{secure.port}"]
        result = run(probe(f"wss://127.0.0.1:{secure.port}/api/chat", 0.4, verify_tls=False))
        assert result.answered == 5

        async def verified():  # with the certificate as the trusted authority: verified TLS
            context = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(f"wss://127.0.0.1:{secure.port}/api/chat", ssl=context) as ws:
                    return (await ws.receive(30)).data

        assert run(verified()) == b"\x00"
        with pytest.raises(Exception):
            run(probe(f"ws://127.0.0.1:{secure.port}/api/chat", 0.2))  # plain text to a TLS port
    finally:
        secure.stop()
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    for folder, words in ((tmp_path / "nothing", "cert.pem not found"), (tmp_path, "cannot use")):
        with pytest.raises(security.ServeConfigError, match=words):
            ChatServer().start(ServeOptions(model="demo", ssl_dir=str(folder)))


def test_port_in_use_and_wrong_model_kind_are_errors(server, demo_home, tmp_path):
    log = EventLog()
    busy = ChatServer(log)
    busy.start(ServeOptions(model="demo", cache_dir=str(demo_home), port=server.port))
    assert wait_until(lambda: not busy.running, 30)
    bind = [e for e in log.of(ErrorEvent) if e.kind == "bind"]
    assert bind and f"127.0.0.1:{server.port}" in bind[0].message
    assert [e.state for e in log.of(StateEvent)] == ["loading", "stopped"]

    stt = tmp_path / "stt-model"
    shutil.copytree(server.model.files.lm_path.parent, stt)
    config = json.loads((stt / "config.json").read_text())
    (stt / "config.json").write_text(json.dumps({**config, "model_type": "stt"}))
    log = EventLog()
    wrong = ChatServer(log)
    wrong.start(ServeOptions(model=str(stt), port=0))
    assert wait_until(lambda: not wrong.running, 60)
    errors = log.of(ErrorEvent)
    assert len(errors) == 1 and errors[0].kind == "model_kind" and errors[0].fatal
    assert "speech to text model" in errors[0].message and "`serve`" in errors[0].message
    assert "python -m moshi_mlx transcribe" in errors[0].message
    assert wrong.model is None
