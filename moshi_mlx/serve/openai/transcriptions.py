"""`POST /v1/audio/transcriptions`: an audio file in (any format the file reader takes), its
transcript out as json, text, srt, vtt or verbose_json (segments, and words with
`timestamp_granularities[]=word`). The audio is decoded off the event loop, then fed to the
model on the MLX worker a few seconds at a time, so that a conversation on `/api/chat` keeps its
turn between blocks."""

from __future__ import annotations

import asyncio
import io
import json

from ...errors import MoshiError
from ...stt.events import EndOfTurn, Word
from ..session import on_worker
from .errors import ApiError, invalid
from .forms import check_names, choice, number, read_form

FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("word", "segment")
KNOWN = {"file", "model", "language", "prompt", "response_format", "temperature",
         "timestamp_granularities[]", "timestamp_granularities", "stream", "include[]",
         "chunking_strategy"}
OPENAI_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe",
                 "gpt-4o-transcribe-diarize")
BLOCK_FRAMES = 4  # 320 ms of audio per MLX job: a live /api/chat waits at most one job
MAX_AUDIO_S = 3600.0
SEGMENT_MAX_S = 30.0


async def transcribe(request, api):
    form = await read_form(request, api.max_upload_bytes)
    try:
        check_names(form.fields, KNOWN - {"file"})
        if form.file is None:
            raise invalid("file", "the `file` part is missing: send the audio as a file", "missing_file")
        slot = api.slot_for("stt", form.get("model"))
        fmt = choice("response_format", form.get("response_format"), FORMATS, "json")
        granularities = form.fields.get("timestamp_granularities[]", []) + \
            form.fields.get("timestamp_granularities", [])
        for g in granularities:
            choice("timestamp_granularities[]", g, GRANULARITIES, "segment")
        if granularities and fmt != "verbose_json":
            raise invalid("timestamp_granularities[]", "timestamp_granularities needs "
                          "response_format verbose_json")
        if (form.get("stream") or "false").lower() not in ("false", "0"):
            raise invalid("stream", "streamed transcriptions are not supported here: leave stream out")
        if form.get("chunking_strategy") or form.fields.get("include[]"):
            raise invalid("chunking_strategy" if form.get("chunking_strategy") else "include[]",
                          "chunking_strategy and include are not supported here")
        if form.get("prompt"):
            raise invalid("prompt", "Kyutai's speech to text models take no prompt: leave it out")
        if number("temperature", form.get("temperature"), 0.0) != 0.0:
            raise invalid("temperature", "only temperature 0 (the model's own sampling) is supported")
        try:
            pcm = await asyncio.to_thread(_read_audio, form.file)
        except ApiError:
            raise
        except (MoshiError, RuntimeError, OSError) as e:
            raise invalid("file", f"cannot read the audio file {form.filename!r}: "
                          f"{str(e).replace(form.file, 'it')}", "invalid_audio") from None
        async with slot.turn() as engine:
            language = _language(form.get("language"), engine)
            events = await _run(engine.transcriber, pcm, request)
    finally:
        form.close()
    duration = len(pcm) / 24000
    return _respond(fmt, events, duration, language or (engine.languages[0] if engine.languages else
                                                        "unknown"), "word" in granularities)


def _read_audio(path: str):
    from ... import audio_io

    with audio_io.AudioFileReader(path, frame_size=1920) as reader:
        if reader.duration_s > MAX_AUDIO_S:
            raise ApiError(413, f"the audio lasts {reader.duration_s:.0f} s; this server transcribes at "
                           f"most {MAX_AUDIO_S:.0f} s per request", param="file", code="audio_too_long")
    pcm = audio_io.read_audio(path)
    if len(pcm) == 0:
        raise MoshiError("no audio in this file (0 samples)")
    return pcm


def _language(language: str | None, engine) -> str | None:
    if not language:
        return None
    if engine.languages and language.lower() not in engine.languages:
        raise invalid("language", f"{engine.spec} transcribes {', '.join(engine.languages)}, not "
                      f"{language!r}")
    return language.lower()


async def _run(transcriber, pcm, request) -> list:
    block = transcriber.frame_size * BLOCK_FRAMES
    events: list = []
    await on_worker(transcriber.reset)
    for start in range(0, len(pcm), block):
        if request.transport is None or request.transport.is_closing():
            raise ConnectionResetError("the client left")  # nobody waits for the transcript
        piece = pcm[start:start + block]
        events += await on_worker(lambda: transcriber.push(piece))
    events += await on_worker(transcriber.flush)
    return events


def _segments(events) -> list[dict]:
    """Words grouped into segments: a turn, a sentence or SEGMENT_MAX_S ends one."""
    segments, words = [], []

    def close():
        if words:
            segments.append({"id": len(segments), "seek": 0, "start": round(words[0].start, 3),
                             "end": round(words[-1].end, 3), "text": " " + " ".join(w.text for w in words),
                             "tokens": [], "temperature": 0.0, "avg_logprob": 0.0,
                             "compression_ratio": 0.0, "no_speech_prob": 0.0})
            words.clear()

    for e in events:
        if isinstance(e, Word):
            if words and e.end - words[0].start > SEGMENT_MAX_S:
                close()
            words.append(e)
            if e.text[-1:] in ".?!":
                close()
        elif isinstance(e, EndOfTurn):
            close()
    close()
    return segments


def _respond(fmt: str, events: list, duration: float, language: str, word_times: bool):
    from aiohttp import web

    from ...stt.formats import make_writer

    words = [e for e in events if isinstance(e, Word)]
    if fmt in ("srt", "vtt"):
        out = io.StringIO()
        writer = make_writer(fmt, out, {})
        for e in events:
            writer.event(e)
        writer.close(duration)
        return web.Response(text=out.getvalue(), content_type="text/plain")
    text = _text(events)
    if fmt == "text":
        return web.Response(text=text + "\n", content_type="text/plain")
    body = {"text": text, "usage": {"type": "duration", "seconds": round(duration, 3)}}
    if fmt == "verbose_json":
        body = {"task": "transcribe", "language": language, "duration": round(duration, 3),
                "text": text, "segments": _segments(events)}
        if word_times:
            body["words"] = [{"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
                             for w in words]
        body["usage"] = {"type": "duration", "seconds": round(duration, 3)}
    return web.Response(text=json.dumps(body, ensure_ascii=False), content_type="application/json")


def _text(events) -> str:
    """The words, a turn ending a paragraph."""
    paragraphs: list[list[str]] = [[]]
    for e in events:
        if isinstance(e, Word):
            paragraphs[-1].append(e.text)
        elif isinstance(e, EndOfTurn) and paragraphs[-1]:
            paragraphs.append([])
    return "\n".join(" ".join(p) for p in paragraphs if p)
