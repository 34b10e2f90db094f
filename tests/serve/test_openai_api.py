"""The OpenAI-compatible endpoints through OpenAI's own Python client, against the demo models:
a transcription in every format, speech in every format (valid files, streamed as synthesized),
/v1/models, and OpenAI-style errors for whatever is malformed or unsupported."""

import io
import json
import threading
import time

import numpy as np
import openai
import pytest
import soundfile as sf
import sphn

from moshi_mlx.serve import ChatServer, ServeOptions
from moshi_mlx.serve.openai import engines

from .conftest import EventLog, wait_until
from .netutil import form, http

LONG_TEXT = " ".join(["The quick brown fox jumps over the lazy dog."] * 4)


def start_api(demo_home, **options) -> ChatServer:
    server = ChatServer(EventLog())
    server.start(ServeOptions(**{"model": None, "stt": "demo-stt", "tts": "demo-tts",
                                 "cache_dir": str(demo_home), "port": 0, **options}))
    assert server.wait_running(300), server._listener.events[-5:]
    return server


@pytest.fixture(scope="module")
def api(demo_home):
    server = start_api(demo_home)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(api):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{api.port}/v1", api_key="unused-on-localhost",
                         max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory):
    """3 s of a gliding tone, as FLAC at 16 kHz stereo (the reader resamples and mixes down)."""
    t = np.arange(16000 * 3) / 16000
    tone = 0.3 * np.sin(2 * np.pi * (200 + 80 * np.sin(2 * np.pi * 0.5 * t)) * t)
    path = tmp_path_factory.mktemp("audio") / "speech.flac"
    sf.write(path, np.stack([tone, tone], axis=1), 16000)
    return path


def _error(e: openai.APIStatusError) -> dict:
    body = e.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"] and "\n" not in body["error"]["message"]
    return body["error"]


def test_transcription_in_every_format(client, speech_file):
    def create(fmt, **kw):
        with open(speech_file, "rb") as f:
            return client.audio.transcriptions.create(model="demo-stt", file=f, response_format=fmt, **kw)

    plain = create("json")
    assert isinstance(plain.text, str) and plain.text.strip()
    assert create("text").strip() == plain.text  # greedy: the same words every time
    srt, vtt = create("srt"), create("vtt")
    assert srt.startswith("1\n00:00:0") and " --> " in srt
    assert vtt.startswith("WEBVTT\n\n00:00:0") and " --> " in vtt
    verbose = create("verbose_json", timestamp_granularities=["word", "segment"])
    assert verbose.duration == pytest.approx(3.0) and verbose.text == plain.text
    assert verbose.words and all(0 <= w.start <= w.end <= 3.0 for w in verbose.words)
    assert " ".join(w.word for w in verbose.words) == plain.text
    assert verbose.segments and verbose.segments[0].start == verbose.words[0].start
    assert create("verbose_json").words is None  # words only when asked for
    assert create("verbose_json", language="fr").language == "fr"
    # OpenAI's model names reach the STT model too
    with open(speech_file, "rb") as f:
        assert client.audio.transcriptions.create(model="whisper-1", file=f).text == plain.text


def test_transcription_refusals_are_openai_errors(client, api, speech_file, tmp_path):
    def fails(status, param, **kw):
        with open(kw.pop("path", speech_file), "rb") as f:
            with pytest.raises(openai.APIStatusError) as e:
                client.audio.transcriptions.create(**{"model": "demo-stt", "file": f, **kw})
        assert e.value.status_code == status, e.value.response.text
        error = _error(e.value)
        assert error["param"] == param, error
        return error

    assert "choose from json, text, srt, vtt, verbose_json" in fails(400, "response_format",
                                                                    response_format="mp3")["message"]
    assert fails(404, "model", model="nope")["code"] == "model_not_found"
    assert "no prompt" in fails(400, "prompt", prompt="Hello")["message"]
    fails(400, "temperature", temperature=0.5)
    fails(400, "timestamp_granularities[]", response_format="json", timestamp_granularities=["word"])
    fails(400, "foo", extra_body={"foo": "bar"})  # an unknown field
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really audio")
    assert "cannot read the audio file" in fails(400, "file", path=bad)["message"]
    # no file at all, and a body that is not a form
    base = f"http://127.0.0.1:{api.port}/v1/audio/transcriptions"
    status, _, body = http(base, *form({"model": "demo-stt"}))
    assert status == 400 and json.loads(body)["error"]["code"] == "missing_file"
    status, _, body = http(base, b'{"model": "demo-stt"}', {"Content-Type": "application/json"})
    assert status == 415 and json.loads(body)["error"]["type"] == "invalid_request_error"


def test_an_upload_over_the_limit_is_413(demo_home, api, speech_file, tmp_path):
    small = start_api(demo_home, tts=None, max_upload_mb=0.01)  # 10 kB
    try:
        big = tmp_path / "big.wav"
        sf.write(big, np.zeros(24000, np.float32), 24000)  # 48 kB
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{small.port}/v1", api_key="x", max_retries=0)
        with open(big, "rb") as f, pytest.raises(openai.APIStatusError) as e:
            c.audio.transcriptions.create(model="demo-stt", file=f)
        assert e.value.status_code == 413 and _error(e.value)["code"] == "file_too_large"
        assert "0.01 MB" in _error(e.value)["message"]
        # without Content-Length (chunked), the limit holds while reading
        def chunks():
            yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
            for _ in range(10):
                yield bytes(4096)
            yield b"\r\n--b--\r\n"

        status, _, body = http(f"http://127.0.0.1:{small.port}/v1/audio/transcriptions", chunks(),
                               {"Content-Type": "multipart/form-data; boundary=b"})
        assert status == 413, body
    finally:
        small.stop()


def _speech(client, fmt, text="Hello world.", **kw) -> bytes:
    return client.audio.speech.create(model="demo-tts", voice="alloy", input=text,
                                      response_format=fmt, **kw).read()


def test_speech_in_every_format_is_a_valid_file(client, tmp_path):
    wav = _speech(client, "wav")
    pcm, rate = sf.read(io.BytesIO(wav), dtype="float32")
    assert rate == 24000 and pcm.ndim == 1 and len(pcm) >= 1920 and len(pcm) % 1920 == 0
    assert np.abs(pcm).max() > 0.0
    raw = _speech(client, "pcm")
    assert len(raw) % 2 == 0 and abs(len(raw) // 2 - len(pcm)) < 24000 * 2  # s16le samples
    assert np.abs(np.frombuffer(raw, "<i2")).max() > 0
    ogg = _speech(client, "opus")
    assert ogg[:4] == b"OggS" and b"OpusHead" in ogg[:64]
    (tmp_path / "speech.ogg").write_bytes(ogg)
    decoded, opus_rate = sphn.read_opus(str(tmp_path / "speech.ogg"))
    assert decoded.shape[-1] / opus_rate > 0.3  # seconds of decodable audio


def test_speech_is_streamed_as_it_is_synthesized(client):
    start = time.monotonic()
    first_audio = None
    received = 0
    with client.audio.speech.with_streaming_response.create(
            model="demo-tts", voice="nova", input=LONG_TEXT, response_format="pcm") as response:
        assert response.headers["content-type"] == "audio/pcm"
        assert response.headers.get("transfer-encoding") == "chunked"
        for chunk in response.iter_bytes():
            received += len(chunk)
            if first_audio is None and received > 0:
                first_audio = time.monotonic() - start
    total = time.monotonic() - start
    print(f"speech of {len(LONG_TEXT)} characters: first audio after {first_audio:.2f} s, "
          f"{received / 48000:.1f} s of audio in {total:.1f} s")
    assert received / 48000 > 5  # the whole text was spoken
    assert first_audio < total / 4, (first_audio, total)


def test_voices_formats_and_fields_refused_as_openai_errors(client, api):
    def fails(status, param, **kw):
        args = {"model": "demo-tts", "voice": "alloy", "input": "Hello.", **kw}
        with pytest.raises(openai.APIStatusError) as e:
            client.audio.speech.create(**args).read()
        assert e.value.status_code == status, e.value.response.text
        error = _error(e.value)
        assert error["param"] == param, error
        return error

    assert "choose from wav, pcm, opus" in fails(400, "response_format", response_format="mp3")["message"]
    assert "choose from wav, pcm, opus" in fails(400, "response_format", response_format="aac")["message"]
    message = fails(400, "voice", voice="nobody")["message"]
    assert "demo/voice-1.wav" in message and "OpenAI's voice names" in message
    fails(400, "speed", speed=1.5)
    fails(400, "instructions", instructions="whisper")
    fails(400, "input", input="")
    fails(400, "input", input="x" * 5000)
    fails(404, "model", model="tts-9")
    fails(400, "colour", extra_body={"colour": "blue"})
    status, _, body = http(f"http://127.0.0.1:{api.port}/v1/audio/speech", b"{not json",
                           {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_json"
    status, _, body = http(f"http://127.0.0.1:{api.port}/v1/chat/completions")
    assert status == 404 and json.loads(body)["error"]["code"] == "unknown_url"
    # a voice by its own name, its file name, and OpenAI's names spread over the voices
    voices = api._api.slots["tts"].engine.voices
    assert voices == ["demo/voice-1.wav", "demo/voice-2.wav"]
    for asked, used in (("demo/voice-2.wav", "demo/voice-2.wav"), ("voice-2", "demo/voice-2.wav"),
                        ("alloy", "demo/voice-1.wav"), ("ash", "demo/voice-2.wav")):
        with client.audio.speech.with_streaming_response.create(
                model="tts-1", voice=asked, input="Hi.", response_format="pcm") as r:
            assert r.headers["x-moshi-voice"] == used


def test_models_lists_what_is_loaded(client, api):
    models = {m.id: m for m in client.models.list()}
    assert {"demo-stt", "demo-tts", "whisper-1", "tts-1"} <= set(models)
    assert models["demo-stt"].model_extra["status"] == "loaded"
    assert models["whisper-1"].model_extra["alias_of"] == "demo-stt"
    assert models["demo-tts"].model_extra["voices"] == ["demo/voice-1.wav", "demo/voice-2.wav"]
    assert client.models.retrieve("demo-tts").id == "demo-tts"
    available = models["kyutai/stt-1b-en_fr-candle"].model_extra  # what it could serve
    assert available["status"] == "available" and available["serve_with"] == "--stt kyutai/stt-1b-en_fr-candle"
    with pytest.raises(openai.NotFoundError, match="not served here"):
        with open(__file__, "rb") as f:
            client.audio.transcriptions.create(model="kyutai/stt-1b-en_fr-candle", file=f)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-5")
    status, _, body = http(f"http://127.0.0.1:{api.port}/api/chat")  # no conversation model here
    assert status == 404 and b"--model" in body


def test_a_busy_model_queues_then_says_429(demo_home, monkeypatch):
    """api_queue=0: one request at a time, a second one at the same time gets 429 + Retry-After."""
    server = start_api(demo_home, stt=None, api_queue=0)
    try:
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="x", max_retries=0,
                          timeout=120)
        results = {}

        def long_speech():
            results["first"] = len(_speech(c, "pcm", LONG_TEXT))

        thread = threading.Thread(target=long_speech)
        thread.start()
        assert wait_until(lambda: server._api.slots["tts"]._users == 1, 30)
        with pytest.raises(openai.RateLimitError) as e:
            _speech(c, "pcm")
        assert e.value.response.headers["retry-after"] == "2"
        assert _error(e.value)["type"] == "rate_limit_error"
        thread.join(120)
        assert results["first"] > 48000 * 2
        assert len(_speech(c, "pcm")) > 0  # free again
    finally:
        server.stop()


def test_a_request_during_the_load_waits_for_it(demo_home, monkeypatch):
    real = engines.load_engine
    release = threading.Event()

    def slow_load(*args):
        release.wait(60)
        return real(*args)

    monkeypatch.setattr(engines, "load_engine", slow_load)
    server = ChatServer(EventLog())
    server.start(ServeOptions(model=None, tts="demo-tts", cache_dir=str(demo_home), port=0))
    try:
        assert wait_until(lambda: server.port is not None, 30) and not server.wait_running(0.2)
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="x", max_retries=0,
                          timeout=120)
        loading = {m.id: m.model_extra["status"] for m in c.models.list()}
        assert loading["demo-tts"] == "loading"
        result = {}
        thread = threading.Thread(target=lambda: result.setdefault("wav", _speech(c, "wav")))
        thread.start()
        time.sleep(0.5)
        assert "wav" not in result  # waiting, not refused
        release.set()
        thread.join(120)
        assert sf.read(io.BytesIO(result["wav"]))[1] == 24000
    finally:
        release.set()
        server.stop()


def test_serve_needs_some_model():
    from moshi_mlx.serve.security import ServeConfigError

    with pytest.raises(ServeConfigError, match="--model .*--stt .*--tts"):
        ChatServer().start(ServeOptions(model=None))


def test_language_is_checked_against_what_the_model_announces():
    from types import SimpleNamespace

    from moshi_mlx.serve.openai.errors import ApiError
    from moshi_mlx.serve.openai.transcriptions import _language

    assert engines.languages_of("kyutai/stt-1b-en_fr-candle") == ("en", "fr")
    assert engines.languages_of("kyutai/stt-2.6b-en") == ("en",)
    assert engines.languages_of("demo-stt") == () == engines.languages_of("/models/my-stt")
    english = SimpleNamespace(spec="kyutai/stt-2.6b-en", languages=("en",))
    assert _language("EN", english) == "en" and _language(None, english) is None
    with pytest.raises(ApiError, match="transcribes en, not 'fr'") as e:
        _language("fr", english)
    assert e.value.param == "language" and e.value.status == 400
    assert _language("de", SimpleNamespace(spec="demo-stt", languages=())) == "de"  # unknown: any


def test_a_client_that_leaves_mid_speech_stops_the_synthesis(client, api):
    slot = api._api.slots["tts"]
    start = time.monotonic()
    with client.audio.speech.with_streaming_response.create(
            model="demo-tts", voice="alloy", input=LONG_TEXT, response_format="pcm") as response:
        next(response.iter_bytes())  # the first audio, then the client hangs up
    assert wait_until(lambda: slot._users == 0, 30)
    left = time.monotonic() - start
    print(f"a client leaving: the model was free again {left:.1f} s after the request")
    assert left < 8.0  # the whole text takes longer than that (see the streaming test)
    assert len(_speech(client, "pcm", "Again.")) > 0


def test_the_voice_option_is_the_default_voice_and_a_bad_one_stops_the_start(demo_home):
    from moshi_mlx.engine.events import ErrorEvent

    server = start_api(demo_home, stt=None, tts_voice="demo/voice-2.wav")
    try:
        engine = server._api.slots["tts"].engine
        assert engine.default_voice == "demo/voice-2.wav"
        assert engine.voices == ["demo/voice-2.wav", "demo/voice-1.wav"]
        assert engine.voice_name("alloy") == engine.voice_name(None) == "demo/voice-2.wav"
    finally:
        server.stop()
    log = EventLog()
    bad = ChatServer(log)
    bad.start(ServeOptions(model=None, tts="demo-tts", tts_voice="/no/such/voice.safetensors",
                           cache_dir=str(demo_home), port=0))
    assert not bad.wait_running(120)
    errors = log.of(ErrorEvent)
    assert errors and "voice file /no/such/voice.safetensors does not exist" in errors[-1].message
