"""`POST /v1/audio/speech`: text in, speech out, streamed as it is synthesized. The response is
chunked: its first bytes (and, for wav, the header) leave as soon as the first frames are decoded,
long before the text is spoken to its end. Frames are made on the MLX worker a few at a time, so
that a conversation on `/api/chat` keeps its turn; a client that leaves stops the synthesis."""

from __future__ import annotations

import numpy as np

from ..session import on_worker
from .audio_out import FORMATS, Encoder
from .errors import invalid
from .forms import check_names, choice, number, read_json

KNOWN = {"model", "input", "voice", "response_format", "speed", "instructions", "stream_format"}
OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
FIRST_BLOCK = 1  # frames in the first MLX job: the first audio leaves as early as possible
BLOCK = 2  # then 160 ms of audio per job: a live /api/chat waits at most one job
UNSUPPORTED_FORMATS = ("mp3", "aac", "flac")


async def speak(request, api):
    from aiohttp import web

    body = await read_json(request)
    check_names(body, KNOWN)
    slot = api.slot_for("tts", body.get("model"))
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise invalid("input", "input must be the text to speak (a non-empty string)",
                      "missing_input" if text is None else "invalid_value")
    if len(text) > api.options.max_speech_chars:
        raise invalid("input", f"input has {len(text)} characters; at most "
                      f"{api.options.max_speech_chars} per request", "string_above_max_length")
    fmt = body.get("response_format")
    if fmt in UNSUPPORTED_FORMATS:
        raise invalid("response_format", f"response_format {fmt} cannot be streamed by this server; "
                      f"choose from {', '.join(FORMATS)}", "unsupported_format")
    fmt = choice("response_format", fmt, FORMATS, "wav")
    if number("speed", body.get("speed"), 1.0) != 1.0:
        raise invalid("speed", "only speed 1.0 is supported: Kyutai's TTS speaks at its own pace")
    if body.get("instructions"):
        raise invalid("instructions", "Kyutai's TTS takes no instructions: choose a voice instead")
    choice("stream_format", body.get("stream_format"), ("audio",), "audio")
    voice = body.get("voice")
    if voice is not None and not isinstance(voice, str):
        raise invalid("voice", "voice must be a voice name (custom voice objects are not supported)")
    async with slot.turn() as engine:
        name = engine.voice_name(voice)
        if name is None:
            shown = ", ".join(engine.voices[:10]) + (", ..." if len(engine.voices) > 10 else "")
            raise invalid("voice", f"unknown voice {voice!r}: use one of OpenAI's voice names or "
                          f"one of this model's voices ({shown})")
        synth = await on_worker(lambda: _start(engine, name, text))
        frames = synth.frames()
        encoder = Encoder(fmt)
        response = web.StreamResponse(headers={"Content-Type": encoder.content_type,
                                               "X-Moshi-Voice": name})
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            await response.write(encoder.start())
            size = FIRST_BLOCK
            while (pcm := await on_worker(lambda: _take(frames, size))) is not None:
                await response.write(encoder.encode(pcm))
                size = BLOCK
            await response.write(encoder.finish())
            await response.write_eof()
        except ConnectionError:  # the client left: the synthesis stops here
            pass
        finally:
            synth.cancel()
            await on_worker(frames.close)
    return response


def _start(engine, voice: str, text: str):
    synth = engine.synth(voice)
    synth.push_text(text)
    synth.end_of_text()
    return synth


def _take(frames, n: int) -> np.ndarray | None:
    """The next `n` frames' audio (fewer at the end), or None when the speech is over."""
    pieces = []
    for frame in frames:
        pieces.append(frame.pcm)
        if len(pieces) >= n:
            break
    return np.concatenate(pieces) if pieces else None
