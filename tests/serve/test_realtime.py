"""/v1/realtime through OpenAI's own client (`client.realtime.connect`), on the demo STT and TTS and
a scripted LLM: a spoken turn, a typed turn, a cancel, errors for what is unsupported, the /v1 audio
endpoints refused while a session runs, and the token off localhost. One server for the module."""

import base64
import json

import numpy as np
import openai
import pytest

from moshi_mlx.serve import ChatServer, ServeOptions
from moshi_mlx.serve.openai import realtime

from .conftest import TOKEN, EventLog

pytest.importorskip("websockets")
pytestmark = pytest.mark.realtime  # the assistant's input is a live clock: 80 ms a frame

REPLIES = ["Hello there, nice to hear you.",
           " ".join(["This is a long reply that goes on and on, so that there is time to cut it."] * 6)]
NO_VAD = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


@pytest.fixture(scope="module")
def rt(demo_home, tmp_path_factory):
    script = tmp_path_factory.mktemp("llm") / "script.json"
    script.write_text(json.dumps({"replies": REPLIES}))
    server = ChatServer(EventLog())
    server.start(ServeOptions(model=None, stt="demo-stt", tts="demo-tts", llm=f"scripted:{script}",
                              cache_dir=str(demo_home), port=0))
    assert server.wait_running(300), server._listener.events[-5:]
    yield server
    server.stop()


def client(server, **kw):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key=kw.pop("key", "local"),
                         max_retries=0, timeout=60)


def until(conn, kind: str, seen: list, limit: int = 5000):
    """Events up to the first of type `kind` (kept in `seen`)."""
    for _ in range(limit):
        e = conn.recv()
        seen.append(e)
        if e.type == kind:
            return e
        assert e.type != "error" or kind == "error", e
    raise AssertionError(f"no {kind}")


def types(seen) -> list[str]:
    return [e.type for e in seen]


def test_typed_turn(rt):
    with client(rt).realtime.connect(model="local") as conn:
        seen = []
        created = until(conn, "session.created", seen)
        assert created.session.audio.output.format.rate == 24000
        conn.session.update(session={**NO_VAD, "instructions": "Be brief.", "audio": {
            "input": {"turn_detection": None}, "output": {"voice": "alloy"}}})
        updated = until(conn, "session.updated", seen)
        assert updated.session.instructions == "Be brief."
        conn.conversation.item.create(item={"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": "Hi!"}]})
        conn.response.create()
        done = until(conn, "response.done", seen)
        assert done.response.status == "completed"
        kinds = types(seen)
        assert "response.created" in kinds and "conversation.item.added" in kinds
        audio = [e for e in seen if e.type == "response.output_audio.delta"]
        assert audio and all(len(base64.b64decode(e.delta)) == 1920 * 2 for e in audio)
        words = "".join(e.delta for e in seen if e.type == "response.output_audio_transcript.delta")
        assert words.strip() == REPLIES[0]
        assert kinds.index("response.created") < kinds.index("response.output_audio.delta")


def test_spoken_turn_and_unknown_event(rt):
    with client(rt).realtime.connect(model="local") as conn:
        seen = []
        until(conn, "session.created", seen)
        conn.session.update(session={**NO_VAD, "tools": [{"type": "function", "name": "f"}],
                                     "audio": {"input": {"turn_detection": None,
                                                         "format": {"type": "audio/pcmu"}}}})
        until(conn, "session.updated", seen)
        named = {until(conn, "error", seen).error.param for _ in range(2)}
        assert named == {"session.tools", "session.audio.input.format"}
        conn.send({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0,
                   "audio_end_ms": 0})
        err = until(conn, "error", seen)
        assert err.error.code == "unsupported_event" and "conversation.item.truncate" in err.error.message
        conn.input_audio_buffer.commit()  # nothing appended
        assert until(conn, "error", seen).error.code == "input_audio_buffer_commit_empty"
        t = np.arange(24000) / 24000
        pcm = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes()
        for i in range(0, len(pcm), 9600):  # 200 ms chunks
            conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i:i + 9600]).decode())
        conn.input_audio_buffer.commit()
        seen = []
        committed = until(conn, "input_audio_buffer.committed", seen)
        assert "input_audio_buffer.speech_started" in types(seen)
        completed = until(conn, "conversation.item.input_audio_transcription.completed", seen)
        assert completed.item_id == committed.item_id
        done = until(conn, "response.done", seen)
        assert done.response.status == "completed"
        assert any(e.type == "response.output_audio.delta" for e in seen)
        assert "".join(e.delta for e in seen if e.type == "response.output_audio_transcript.delta").strip() \
            == REPLIES[0]


def test_cancel_and_busy_endpoints(rt, monkeypatch):
    api = client(rt)
    # This client stops reading for a while (the demo STT keeps captioning the silence): an unbounded
    # queue keeps its reader going, so that its close is answered at once, not after websockets' 10 s.
    with api.realtime.connect(model="local", websocket_connection_options={"max_queue": None}) as conn:
        seen = []
        until(conn, "session.created", seen)
        conn.session.update(session=NO_VAD)
        until(conn, "session.updated", seen)
        conn.response.cancel()
        assert until(conn, "error", seen).error.code == "response_cancel_not_active"
        for text in ("Hi!", "Tell me more."):
            conn.conversation.item.create(item={"type": "message", "role": "user",
                                                "content": [{"type": "input_text", "text": text}]})
            conn.response.create()
            if text == "Hi!":
                assert until(conn, "response.done", seen).response.status == "completed"
        until(conn, "response.output_audio.delta", seen)
        # the MLX worker is the session's: the audio endpoints say so instead of waiting
        with pytest.raises(openai.APIStatusError) as e:
            api.audio.speech.create(model="demo-tts", voice="alloy", input="Hello")
        assert e.value.status_code == 503 and "realtime" in str(e.value)
        conn.response.cancel()
        done = until(conn, "response.done", seen)
        assert done.response.status == "cancelled"
        words = "".join(e.delta for e in seen if e.type == "response.output_audio_transcript.delta")
        assert len(words) < len(REPLIES[0]) + len(REPLIES[1])
        # a second session at the same time is refused (after a grace for a client that reconnects
        # at once, whose old session is ending: shortened here, this one is not ending)
        monkeypatch.setattr(realtime, "BUSY_GRACE_S", 0.5)
        with api.realtime.connect(model="local") as other:
            err = other.recv()
            assert err.type == "error" and err.error.code == "session_busy"
    # once its client has gone, the endpoints wait for the session's end, then answer
    assert api.audio.speech.create(model="demo-tts", voice="alloy", input="Hi", response_format="pcm").content


def test_token_off_localhost(demo_home, tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps(["Hi."]))
    server = ChatServer(EventLog())
    server.start(ServeOptions(model=None, llm=f"scripted:{script}", cache_dir=str(demo_home), port=0,
                              host="0.0.0.0", token=TOKEN))
    try:
        assert server.wait_running(120)
        with pytest.raises(Exception) as e:
            with client(server, key="wrong-token-123456").realtime.connect(model="x") as conn:
                conn.recv()
        assert "401" in str(e.value)
        with client(server, key=TOKEN).realtime.connect(model="x") as conn:  # text only: no STT, no TTS
            assert conn.recv().type == "session.created"
            conn.conversation.item.create(item={"type": "message", "role": "user",
                                                "content": [{"type": "input_text", "text": "Hi"}]})
            conn.response.create()
            seen = []
            assert until(conn, "response.done", seen).response.status == "completed"
            assert "".join(e.delta for e in seen if e.type == "response.output_text.delta").strip() == "Hi."
    finally:
        server.stop()


def test_llm_with_model_refused():
    from moshi_mlx.serve.security import ServeConfigError

    with pytest.raises(ServeConfigError, match="--llm"):
        ChatServer().start(ServeOptions(model="demo", llm="demo-llm", port=0))



def test_kyutai_protocol_with_the_assistant(rt):
    """/api/chat on a server with --llm and no --model: Kyutai's protocol, the assistant behind it
    (a typed turn as a text message, the extension; Opus audio in is accepted and decoded). The
    demo STT's random words would end turns and barge in at random: turn detection is off."""
    import asyncio

    import aiohttp
    import sphn

    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"ws://127.0.0.1:{rt.port}/api/chat?turn_detection=none") as ws:
                assert (await ws.receive_bytes(timeout=60)) == b"\x00"
                writer = sphn.OpusStreamWriter(24000)
                tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(1920) / 24000)).astype(np.float32)
                for _ in range(5):
                    ogg = writer.append_pcm(tone)
                    if ogg:
                        await ws.send_bytes(b"\x01" + ogg)
                await ws.send_bytes(b"\x02Hi!")
                text, audio = "", 0
                while REPLIES[0] not in text:
                    try:
                        msg = await ws.receive_bytes(timeout=30)
                    except Exception as e:
                        raise AssertionError(f"{type(e).__name__} {e}: {text!r} {audio}") from None
                    if msg[0] == 2:
                        text += msg[1:].decode()
                    elif msg[0] == 1:
                        audio += 1
                    else:
                        raise AssertionError(msg)
                return text, audio

    text, audio = asyncio.run(scenario())
    assert audio > 0 and text.strip().endswith(REPLIES[0])
