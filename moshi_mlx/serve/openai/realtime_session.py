"""`session.update` for `/v1/realtime`: what is applied, and what is named back as unsupported.

Instructions and the voice are the assistant's system prompt and TTS voice: they apply to a session
whose assistant has not started yet (before the first audio or response); later they are refused by
name. Turn detection (server_vad / semantic_vad on, null off) applies at any time."""

from __future__ import annotations

from . import realtime_events as ev

TOP_LEVEL_OK = {"type", "model", "instructions", "audio", "output_modalities", "max_output_tokens",
                "tools", "tool_choice", "tracing", "include", "truncation", "prompt", "temperature"}


def apply_session_update(session, data) -> list[tuple[str, str]]:
    """Apply what can be; return (message, param) for each field that cannot."""
    if not isinstance(data, dict):
        raise ev.EventError("session.update needs a 'session' object", param="session")
    if data.get("type", "realtime") != "realtime":
        raise ev.EventError(f"session type {data.get('type')!r} is not supported here: only 'realtime'",
                            "unsupported_value", "session.type")
    s, problems = session.settings, []
    started = session.assistant is not None
    for key in sorted(set(data) - TOP_LEVEL_OK):
        problems.append((f"session.{key} is not supported by this server", f"session.{key}"))
    if "instructions" in data:
        if started and (data["instructions"] or "") != (s.instructions or ""):
            problems.append(("instructions can only change before the conversation starts (the first "
                             "audio or response)", "session.instructions"))
        elif not started:
            s.instructions = str(data["instructions"] or "") or None
    if "max_output_tokens" in data:
        n = data["max_output_tokens"]
        if n == "inf":
            n = 1000
        if not isinstance(n, int) or n < 1:
            problems.append(("max_output_tokens must be a positive integer or 'inf'", "session.max_output_tokens"))
        elif started:
            problems.append(("max_output_tokens can only change before the conversation starts",
                             "session.max_output_tokens"))
        else:
            s.max_tokens = min(n, 4096)
    mods = data.get("output_modalities")
    if mods is not None and list(mods) != (["audio"] if s.audio_out else ["text"]):
        problems.append((f"output_modalities {list(mods)}: this server answers with "
                         f"{'audio (and its transcript)' if s.audio_out else 'text only (it has no --tts)'}",
                         "session.output_modalities"))
    if data.get("tools"):
        problems.append(("tools are not supported over /v1/realtime yet", "session.tools"))
    audio = data.get("audio") or {}
    if not isinstance(audio, dict):
        return problems + [("session.audio must be an object", "session.audio")]
    _input(session, audio.get("input") or {}, problems)
    _output(session, audio.get("output") or {}, started, problems)
    return problems


def _format_ok(fmt) -> bool:
    if fmt is None:
        return True
    if isinstance(fmt, str):
        return fmt == "pcm16"
    return isinstance(fmt, dict) and fmt.get("type") == "audio/pcm" and fmt.get("rate", 24000) == 24000


def _input(session, data: dict, problems: list) -> None:
    s = session.settings
    for key in sorted(set(data) - {"format", "turn_detection", "transcription", "noise_reduction"}):
        problems.append((f"audio.input.{key} is not supported by this server", f"session.audio.input.{key}"))
    if not _format_ok(data.get("format")):
        problems.append(("audio.input.format: only audio/pcm at 24000 Hz", "session.audio.input.format"))
    if data.get("noise_reduction"):
        problems.append(("audio.input.noise_reduction is not supported by this server",
                         "session.audio.input.noise_reduction"))
    if "turn_detection" in data:
        td = data["turn_detection"]
        if td is None:
            s.server_vad = False
        elif isinstance(td, dict) and td.get("type", "server_vad") in ("server_vad", "semantic_vad"):
            s.server_vad = True
            extra = sorted(set(td) - {"type", "create_response", "interrupt_response"})
            if extra:
                problems.append((f"turn_detection: {', '.join(extra)} not supported (the end of a turn is "
                                 "the STT's pause prediction)", "session.audio.input.turn_detection"))
            if td.get("create_response") is False:
                problems.append(("turn_detection.create_response false is not supported: a turn's end "
                                 "starts its response", "session.audio.input.turn_detection.create_response"))
        else:
            problems.append(("turn_detection: 'server_vad', 'semantic_vad' or null",
                             "session.audio.input.turn_detection"))
        source = session.source
        if source is not None and source.detector is not None:
            source.detector.server_vad = s.server_vad
        if session.assistant is not None:
            session.assistant.server_vad = s.server_vad


def _output(session, data: dict, started: bool, problems: list) -> None:
    s = session.settings
    for key in sorted(set(data) - {"format", "voice", "speed"}):
        problems.append((f"audio.output.{key} is not supported by this server", f"session.audio.output.{key}"))
    if not _format_ok(data.get("format")):
        problems.append(("audio.output.format: only audio/pcm at 24000 Hz", "session.audio.output.format"))
    if data.get("speed") not in (None, 1, 1.0):
        problems.append(("audio.output.speed: only 1.0", "session.audio.output.speed"))
    voice = data.get("voice")
    if voice is None:
        return
    if isinstance(voice, dict):
        voice = voice.get("id")
    engine = session.api.tts_engine()
    name = engine.voice_name(str(voice)) if engine is not None else None
    if name is None:
        problems.append((f"voice {voice!r} is not available here", "session.audio.output.voice"))
    elif started and name != (s.voice or engine.default_voice):
        problems.append(("the voice can only change before the conversation starts",
                         "session.audio.output.voice"))
    elif not started:
        s.voice = name
