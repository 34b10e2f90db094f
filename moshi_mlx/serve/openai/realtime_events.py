"""The Realtime API's (GA) server events this server sends, as plain dicts, and the checks of the
`session.update` fields it accepts. Shapes follow the `openai` package's `types/realtime/`."""

from __future__ import annotations

import base64
import uuid

import numpy as np

SAMPLE_RATE = 24000
PCM_FORMAT = {"type": "audio/pcm", "rate": SAMPLE_RATE}
TURN_DETECTION = {"type": "server_vad"}  # what our end-of-turn (the STT's pause heads) is called


class EventError(Exception):
    """A client event we cannot follow: sent back as an `error` event (the session goes on)."""

    def __init__(self, message: str, code: str = "invalid_value", param: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.message, self.code, self.param, self.kind = message, code, param, kind


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def event(kind: str, **fields) -> dict:
    return {"type": kind, "event_id": new_id("event"), **fields}


def error(message: str, code: str, param: str | None = None, kind: str = "invalid_request_error",
          event_id: str | None = None) -> dict:
    return event("error", error={"type": kind, "code": code, "message": message, "param": param,
                                 "event_id": event_id})


def pcm16_b64(pcm: np.ndarray) -> str:
    """float32 [-1, 1] -> base64 of little-endian PCM16 (Realtime's audio/pcm)."""
    ints = (np.clip(pcm, -1.0, 1.0) * 32767.0).astype("<i2")
    return base64.b64encode(ints.tobytes()).decode("ascii")


def pcm_from_b64(data) -> np.ndarray:
    """base64 PCM16 (24 kHz mono) -> float32; EventError if it is not that."""
    if not isinstance(data, str):
        raise EventError("audio must be a base64 string of PCM16 24 kHz mono", param="audio")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise EventError("audio is not valid base64", param="audio") from None
    if len(raw) % 2:
        raise EventError("audio has an odd number of bytes: PCM16 has 2 per sample", param="audio")
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0


def session_object(s) -> dict:
    """The `session` of session.created / session.updated from a RealtimeSettings."""
    return {"type": "realtime", "object": "realtime.session", "id": s.session_id, "model": s.model,
            "output_modalities": ["audio"] if s.audio_out else ["text"],
            "instructions": s.instructions or "",
            "audio": {"input": {"format": PCM_FORMAT,
                                "turn_detection": dict(TURN_DETECTION) if s.server_vad else None,
                                "transcription": {"model": s.stt} if s.stt else None,
                                "noise_reduction": None},
                      "output": {"format": PCM_FORMAT, "voice": s.voice or s.default_voice or "", "speed": 1.0}},
            "tools": [], "tool_choice": "auto", "max_output_tokens": s.max_tokens}


def response_object(response_id: str, status: str, item: dict | None = None,
                    reason: str | None = None) -> dict:
    out = {"object": "realtime.response", "id": response_id, "status": status,
           "output": [item] if item else [], "conversation_id": None, "output_modalities": None}
    if status == "cancelled":
        out["status_details"] = {"type": "cancelled", "reason": reason or "client_cancelled"}
    return out


def assistant_item(item_id: str, transcript: str, audio: bool, status: str) -> dict:
    part = ({"type": "output_audio", "transcript": transcript} if audio
            else {"type": "output_text", "text": transcript})
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant",
            "status": status, "content": [part]}


def user_item(item_id: str, text: str, audio: bool) -> dict:
    part = {"type": "input_audio", "transcript": text} if audio else {"type": "input_text", "text": text}
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": "user",
            "status": "completed", "content": [part]}


def typed_text(item) -> str:
    """The text of a `conversation.item.create` item: a user message of input_text parts."""
    if not isinstance(item, dict):
        raise EventError("item must be an object", param="item")
    if item.get("type", "message") != "message":
        raise EventError(f"items of type {item.get('type')!r} are not supported here: only user messages "
                         "(type 'message', role 'user')", code="unsupported_item", param="item.type")
    if item.get("role") != "user":
        raise EventError(f"items with role {item.get('role')!r} are not supported here: only 'user' "
                         "(use session.update's instructions for the system prompt)",
                         code="unsupported_item", param="item.role")
    texts = []
    for part in item.get("content") or ():
        if not isinstance(part, dict) or part.get("type") not in ("input_text", "text"):
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise EventError(f"content of type {kind!r} is not supported here: only input_text (send "
                             "speech with input_audio_buffer.append)", code="unsupported_content",
                             param="item.content")
        texts.append(str(part.get("text") or ""))
    text = " ".join(t.strip() for t in texts if t.strip())
    if not text:
        raise EventError("the item has no text", param="item.content")
    return text
