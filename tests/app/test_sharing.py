"""Settings' "Let other devices connect": the real server (moshi_mlx.serve) with the demo model,
driven from the Settings dialog, and a headless websocket client as the other device."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from moshi_app.backend import Backend
from moshi_app.settings import SettingsStore
from moshi_app.sharing import CONNECTED, OFF, READY
from moshi_mlx.serve.probe import Prober, probe_signal
from tests.serve.test_security import certificate  # noqa: F401 - the fixture: a self-signed one

from .conftest import SCREENSHOTS, FakeBackend, wait_for

pytestmark = [pytest.mark.timeout(300)]
LOAD_MS = 180_000  # the demo model loads in seconds; a loaded 2-core CI machine may take longer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Another server could listen on it (as servers do, past the closed connections' TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
            s.listen()
        except OSError:
            return False
        return True


class RealEngineBackend(FakeBackend):
    """Talk's real conversation engine (and its model cache); the scripted device list."""

    def make_engine(self, listener):
        return Backend.make_engine(self, listener)


class Device:
    """Another device: a websocket client on its own thread and event loop, that talks (a few
    frames) until told to hang up. `outcome`: 'talked' or why it was refused (the close reason)."""

    def __init__(self, url: str, headers: dict | None = None) -> None:
        parts = urlsplit(url)
        self.url = f"ws://127.0.0.1:{parts.port}/api/chat" + (f"?{parts.query}" if parts.query else "")
        self.headers = headers or {}
        self.hang_up = threading.Event()
        self.outcome: str | None = None
        self.answered = 0
        self.thread = threading.Thread(target=lambda: asyncio.run(self._talk()), daemon=True)
        self.thread.start()

    async def _talk(self) -> None:
        try:
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(self.url, headers=self.headers) as ws:
                    prober = Prober(ws)
                    if not await prober.handshake():
                        self.outcome = f"refused: {ws.close_code}"
                        return
                    self.answered = (await prober.run(probe_signal(4), pace=False)).answered
                    self.outcome = "talked"
                    while not self.hang_up.is_set():
                        await asyncio.sleep(0.05)
        except aiohttp.WSServerHandshakeError as e:
            self.outcome = f"refused: {e.status}"
        except Exception as e:  # noqa: BLE001 - the test reports it
            self.outcome = f"failed: {type(e).__name__}: {e}"

    def finish(self) -> str | None:
        self.hang_up.set()
        self.thread.join(60)
        return self.outcome


def open_sharing(shell):
    """Settings, on its "Other devices" page."""
    dialog = shell.open_settings()
    dialog.tabs.setCurrentWidget(dialog.sharing_panel)
    return dialog, dialog.sharing_panel


def turn_on(qtbot, shell):
    dialog, panel = open_sharing(shell)
    panel.switch.setChecked(True)
    wait_for(qtbot, lambda: shell.sharing.state == OFF or (shell.sharing.state == READY
                                                            and bool(panel.addresses.text())), LOAD_MS)
    assert shell.sharing.state == READY, (shell.sharing.status, shell.messages.history)
    return dialog, panel


def turn_off(qtbot, shell, panel, port: int) -> None:
    panel.switch.setChecked(False)
    wait_for(qtbot, lambda: shell.sharing.state == OFF, 30_000)
    wait_for(qtbot, lambda: port_is_free(port), 10_000)
    assert panel.state.text() == "Off" and not panel.addresses.isVisible() and panel.options.isEnabled()


def test_this_mac_serves_talks_model_once_and_shows_who_is_connected(qtbot, make_app, demo_home,
                                                                    settings_path):
    port = free_port()
    shell = make_app(RealEngineBackend(), model="demo", cache_dir=str(demo_home), sharing_port=port)
    dialog, panel = turn_on(qtbot, shell)
    url = f"http://127.0.0.1:{port}/"
    assert panel.addresses.text() == url and shell.sharing.urls == [url]
    assert not port_is_free(port)
    assert not panel.qr.pixmap().isNull() and panel.qr.pixmap().width() > 80
    assert "Ready" in panel.state.text() and "own copy" not in panel.state.text()
    assert not panel.options.isEnabled() and not panel.token.isVisible()
    assert SettingsStore(settings_path).load().sharing
    # one copy of the model: the server loaded it through Talk's engine, which keeps it
    kept = shell.mode("talk").bridge.call(lambda engine: engine.models.model).result(10)
    assert kept is not None and kept is shell.sharing._server.model

    device = Device(url)
    wait_for(qtbot, lambda: shell.sharing.state == CONNECTED, 60_000)
    assert panel.state.text() == "A device at 127.0.0.1 is connected"
    # Talk cannot start a conversation on the model a device is talking with
    assert not shell.mode("talk").start() and not shell.mode("talk").running
    assert shell.messages.history[-1].title == "Another device is talking with Moshi"
    assert device.finish() == "talked" and device.answered == 4
    wait_for(qtbot, lambda: shell.sharing.state == READY, 30_000)
    assert panel.state.text() == "Ready: the device at 127.0.0.1 left"

    turn_off(qtbot, shell, panel, port)
    assert not SettingsStore(settings_path).load().sharing
    dialog.reject()


def test_network_needs_its_token_and_a_session_in_the_app_holds_the_server(qtbot, make_app, demo_home,
                                                                          settings_path, tmp_path):
    """With a scripted Talk engine (no model cache to share), the server loads its own copy."""
    port = free_port()
    shell = make_app(FakeBackend(), model="demo", cache_dir=str(demo_home), sharing_port=port)
    dialog, panel = open_sharing(shell)
    assert panel.switch.accessibleName() and panel.regenerate.accessibleName()
    panel.network.setChecked(True)  # never without a token: one is made at once
    token = shell.settings.sharing_token
    assert len(token) >= 20 and panel.token.text() == token and panel.warning.isVisible()
    panel.regenerate.click()
    assert shell.settings.sharing_token not in ("", token)
    token = shell.settings.sharing_token
    web = tmp_path / "dist"  # Kyutai's web UI, built: served at the address shown
    web.mkdir()
    (web / "index.html").write_text("<p>Kyutai's web UI</p>")
    shell.sharing.configure(sharing_web_dir=str(web))  # what Choose… saves
    assert panel.web_dir.text() == str(web)
    dialog.reject()
    dialog, panel = turn_on(qtbot, shell)
    assert "own copy of the model" in panel.state.text()
    urls = shell.sharing.urls
    assert urls and all(u.endswith(f":{port}/?token={token}") for u in urls)
    assert panel.addresses.text().splitlines() == urls and panel.token.isVisible()
    dialog.resize(dialog.sizeHint())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SCREENSHOTS / "sharing.png"))
    assert dialog.height() <= 600 and dialog.width() <= 800  # fits the smallest window we support

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?{urlsplit(urls[0]).query}", timeout=30) as r:
        assert r.read() == b"<p>Kyutai's web UI</p>" and "moshi_token" in r.headers["Set-Cookie"]
    assert Device(f"http://127.0.0.1:{port}/").finish() == "refused: 401"
    wait_for(qtbot, lambda: "without the right token" in panel.state.text())

    talk = shell.mode("talk")
    assert talk.start()  # the scripted conversation: the server refuses devices meanwhile
    wait_for(qtbot, lambda: talk.state == "running")
    assert Device(urls[0]).finish() == "refused: 1013"
    wait_for(qtbot, lambda: "a session runs in the app" in panel.state.text())
    talk.stop()
    wait_for(qtbot, lambda: talk.state == "idle")
    device = Device(urls[0])
    wait_for(qtbot, lambda: shell.sharing.state == CONNECTED, 60_000)
    assert device.finish() == "talked"

    # the settings persist; quitting the app stops the server and frees the port
    saved = SettingsStore(settings_path).load()
    assert (saved.sharing, saved.sharing_network, saved.sharing_port, saved.sharing_token) == (
        True, True, port, token)
    dialog.reject()
    shell.quit()
    assert port_is_free(port) and not shell.sharing._server.running


def test_a_port_in_use_is_said_and_the_switch_goes_off(qtbot, make_app, demo_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        shell = make_app(FakeBackend(), model="demo", cache_dir=str(demo_home), sharing_port=port)
        dialog, panel = open_sharing(shell)
        panel.switch.setChecked(True)
        wait_for(qtbot, lambda: shell.sharing.state == OFF, 30_000)
    assert shell.messages.history[-1].title == "Other devices cannot connect: the port is in use"
    assert f"127.0.0.1:{port}" in shell.messages.history[-1].text
    assert not panel.switch.isChecked() and not shell.settings.sharing and panel.options.isEnabled()
    assert panel.state.text().startswith("Off: other devices cannot connect")
    dialog.reject()


def test_on_at_launch_when_it_was_on_at_quit_never_without_a_token(qtbot, make_app, demo_home):
    port = free_port()
    shell = make_app(FakeBackend(), model="demo", cache_dir=str(demo_home), sharing_port=port,
                     sharing=True, sharing_network=True, sharing_token="")
    wait_for(qtbot, lambda: shell.sharing.state in (READY, OFF), LOAD_MS)
    token = shell.settings.sharing_token  # the network is never open without one
    assert token and shell.sharing._server.token == token, shell.sharing.status
    assert shell.sharing.urls and all(u.endswith(f"/?token={token}") for u in shell.sharing.urls)
    shell.quit()
    assert port_is_free(port)


def test_talks_new_model_is_served_and_a_model_that_cannot_load_is_said(qtbot, make_app, demo_home,
                                                                       tmp_path):
    from moshi_mlx.demo import demo_model_dir

    port = free_port()
    shell = make_app(FakeBackend(), model="demo", cache_dir=str(demo_home), sharing_port=port)
    dialog, panel = turn_on(qtbot, shell)
    folder = str(demo_model_dir(demo_home))  # the same files, as a folder: another model for Talk
    assert shell.mode("talk").set_model(folder)
    wait_for(qtbot, lambda: shell.sharing.model == folder and shell.sharing.state == READY, LOAD_MS)
    assert shell.sharing._server.model.files.lm_path.parent == Path(folder) and shell.settings.sharing
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    assert shell.mode("talk").set_model(str(empty))  # a Moshi folder as far as the picker can tell
    wait_for(qtbot, lambda: shell.sharing.model == str(empty) and shell.sharing.state == OFF, LOAD_MS)
    assert shell.messages.history[-1].title == "The model could not be loaded"
    assert str(empty) in shell.messages.history[-1].text
    assert not panel.switch.isChecked() and not shell.settings.sharing and port_is_free(port)
    assert panel.state.text() == "Off: the model could not be loaded"
    dialog.reject()


def test_tls_folder_https_addresses_and_a_folder_without_certificates(qtbot, make_app, demo_home,
                                                                      certificate, tmp_path):
    port = free_port()
    shell = make_app(FakeBackend(), model="demo", cache_dir=str(demo_home), sharing_port=port,
                     sharing_network=True)
    dialog, panel = open_sharing(shell)
    shell.sharing.configure(sharing_tls_dir=str(tmp_path))  # what Choose… saves
    assert panel.tls_dir.text() == str(tmp_path) and panel.warning.isHidden()
    panel.switch.setChecked(True)
    wait_for(qtbot, lambda: shell.sharing.state == OFF and bool(shell.messages.history))
    assert shell.messages.history[-1].title == "Other devices cannot connect"
    assert "cert.pem not found" in shell.messages.history[-1].text and not panel.switch.isChecked()
    panel.clear_tls.click()
    assert panel.tls_dir.text() == "" and panel.warning.isVisible()
    shell.sharing.configure(sharing_tls_dir=str(certificate))
    dialog.reject()
    dialog, panel = turn_on(qtbot, shell)
    assert shell.sharing.urls and all(u.startswith("https://") for u in shell.sharing.urls)
    assert panel.warning.isHidden()
    dialog.reject()


def test_a_file_transcription_and_a_served_conversation_exclude_each_other(qtbot, make_app, demo_home,
                                                                          tmp_path):
    from .test_transcribe_mode import wav

    backend = FakeBackend()
    port = free_port()
    shell = make_app(backend, model="demo", cache_dir=str(demo_home), sharing_port=port)
    dialog, panel = turn_on(qtbot, shell)
    transcribe = shell.mode("transcribe")
    assert transcribe.set_model("demo-stt")
    audio = wav(tmp_path / "meeting.wav")
    device = Device(shell.sharing.urls[0])
    wait_for(qtbot, lambda: shell.sharing.state == CONNECTED, 60_000)
    assert transcribe.transcribe_file(audio) is None  # the device is talking: said, not started
    assert shell.messages.history[-1].title == "Another device is talking with Moshi"
    assert "Transcribe cannot start now" in shell.messages.history[-1].text
    assert device.finish() == "talked"
    wait_for(qtbot, lambda: shell.sharing.state == READY, 30_000)
    backend.file_gate = threading.Event()  # the scripted file waits until set
    job = transcribe.transcribe_file(audio)
    assert job is not None
    assert Device(shell.sharing.urls[0]).finish() == "refused: 1013"
    wait_for(qtbot, lambda: "a session runs in the app" in panel.state.text())
    backend.file_gate.set()
    wait_for(qtbot, lambda: job.outcome == "succeeded")
    assert Device(shell.sharing.urls[0]).finish() == "talked"  # let in again
    dialog.reject()


def test_a_personaplex_model_is_served_with_talks_persona(qtbot, make_app, demo_home):
    from moshi_mlx.demo import demo_model_dir

    demo_model_dir(demo_home, "demo-personaplex")
    port = free_port()
    shell = make_app(RealEngineBackend(), model="demo-personaplex", cache_dir=str(demo_home),
                     sharing_port=port)
    picker = shell.mode("talk").persona
    picker.panel.role_edit.setPlainText("You like tea.")  # short: the demo's context is tiny
    dialog, panel = turn_on(qtbot, shell)
    server = shell.sharing._server
    assert server._options.persona == {"role": "You like tea."}
    device = Device(f"http://127.0.0.1:{port}/")
    wait_for(qtbot, lambda: shell.sharing.state == CONNECTED, 60_000)
    assert device.finish() == "talked"
    # a new persona in Talk is served from the next conversation on, without a restart
    picker.panel.role_edit.setPlainText("You like coffee.")
    wait_for(qtbot, lambda: server._options.persona == {"role": "You like coffee."}, 30_000)
    assert shell.sharing._server is server and shell.sharing.state == READY
    # one the model cannot take is said; the served one stays
    picker.panel.role_edit.setPlainText("tell me a long story " * 60)
    wait_for(qtbot, lambda: any(m.title == "This persona cannot be used" for m in shell.messages.history),
             30_000)
    assert server._options.persona == {"role": "You like coffee."} and shell.sharing.state == READY
    turn_off(qtbot, shell, panel, port)
    dialog.reject()
