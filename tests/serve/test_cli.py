"""`python -m moshi_mlx serve` as a user runs it: clear errors with exit code 2, the URLs and token,
a conversation, Ctrl+C."""

import json
import re
import shutil
import signal
import subprocess
import sys
import time

from moshi_mlx.serve.probe import probe

from .conftest import run

SERVE = [sys.executable, "-m", "moshi_mlx", "serve"]


def _fails(args, demo_home, words: str) -> None:
    r = subprocess.run([*SERVE, "--cache-dir", str(demo_home), *args], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_refusals_are_clear_errors(demo_home, tmp_path):
    _fails(["--model", "demo", "--host", "0.0.0.0"], demo_home,
           "error: --host 0.0.0.0 lets other devices connect: give a secret with --token")
    _fails(["--model", "demo", "--ssl", str(tmp_path)], demo_home, "cert.pem not found")
    _fails(["--model", "demo", "--static", str(tmp_path / "nope")], demo_home, "not a folder")
    stt = tmp_path / "stt"
    from moshi_mlx.demo import demo_model_dir

    shutil.copytree(demo_model_dir(demo_home), stt)
    config = json.loads((stt / "config.json").read_text())
    (stt / "config.json").write_text(json.dumps({**config, "model_type": "stt"}))
    _fails(["--model", str(stt), "--port", "0"], demo_home, "is a speech to text model")


def test_serve_prints_where_to_connect_talks_and_stops_on_ctrl_c(demo_home):
    server = subprocess.Popen([*SERVE, "--model", "demo", "--cache-dir", str(demo_home), "--port", "0",
                               "--host", "0.0.0.0", "--token", "auto", "--verbose",
                               "--max-lag-frames", "25"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = ""
    try:
        deadline = time.monotonic() + 180
        while "Ctrl+C to stop" not in err and time.monotonic() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            err += line
        assert "Ctrl+C to stop" in err, err
        assert "WARNING: serving on 0.0.0.0 over plain HTTP" in err
        token = re.search(r"token: (\S+)", err).group(1)
        port = int(re.search(r"websocket: ws://\S+:(\d+)/api/chat", err).group(1))
        assert f"/?token={token}" in err
        result = run(probe(f"ws://127.0.0.1:{port}/api/chat", seconds=0.8, token=token, pace=False))
        assert result.answered == 10
        time.sleep(0.5)
        server.send_signal(signal.SIGINT)
        out, rest = server.communicate(timeout=30)
        err += rest
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    assert "127.0.0.1 connected [conversation 1]" in err and "127.0.0.1 disconnected" in err
    assert out.strip() and result.text.strip()[:10] in out  # Moshi's words, as they came
    assert "Traceback" not in err


def test_serve_with_stt_and_tts_only_prints_the_base_url_and_answers(demo_home):
    """`serve --stt --tts`: no conversation model is loaded, the OpenAI base URL is printed, and
    OpenAI's client reaches both models."""
    import openai

    server = subprocess.Popen([*SERVE, "--stt", "demo-stt", "--tts", "demo-tts", "--cache-dir",
                               str(demo_home), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = ""
    try:
        deadline = time.monotonic() + 180
        while "Ctrl+C to stop" not in err and time.monotonic() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            err += line
        assert "Ctrl+C to stop" in err, err
        assert "/api/chat" not in err and "note: the demo model has random weights" in err
        base = re.search(r"OpenAI-compatible API \(base_url\):\n\s+(http://\S+/v1)", err).group(1)
        client = openai.OpenAI(base_url=base, api_key="local", max_retries=0, timeout=60)
        assert {"demo-stt", "demo-tts"} <= {m.id for m in client.models.list()}
        wav = client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.").read()
        assert wav[:4] == b"RIFF"
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
