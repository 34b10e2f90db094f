"""`GET /v1/models`: the models this server serves (status "loading" or "loaded"), each with the
OpenAI names that reach it, the conversation model of `/api/chat`, and the speech models it could
serve if started with them (status "available", with the option that loads them)."""

from __future__ import annotations

import json

from .errors import ApiError

ENDPOINTS = {"stt": "/v1/audio/transcriptions", "tts": "/v1/audio/speech"}


def _entries(api) -> list[dict]:
    from . import speech, transcriptions

    aliases = {"stt": transcriptions.OPENAI_MODELS, "tts": speech.OPENAI_MODELS}
    out = []
    for kind, slot in api.slots.items():
        status = "loaded" if slot.engine is not None else "failed" if slot.failed else "loading"
        base = {"object": "model", "created": slot.created, "owned_by": "moshi-mlx", "kind": kind,
                "endpoint": ENDPOINTS[kind], "status": status}
        extra = {}
        if kind == "tts" and slot.engine is not None:
            extra = {"voices": slot.engine.voices, "default_voice": slot.engine.default_voice}
        out.append({"id": slot.spec, **base, **extra})
        out += [{"id": alias, **base, "alias_of": slot.spec} for alias in aliases[kind]]
    from ...known_models import KNOWN_MODELS

    served = {slot.spec for slot in api.slots.values()}
    out += [{"id": m.repo_id, "object": "model", "created": 0, "owned_by": "kyutai", "kind": m.kind,
             "endpoint": ENDPOINTS[m.kind], "status": "available", "label": m.label,
             "serve_with": f"--{m.kind} {m.repo_id}"}
            for m in KNOWN_MODELS if m.kind in ENDPOINTS and m.repo_id not in served]
    chat = api.options.model
    if chat:
        out.append({"id": chat, "object": "model", "created": 0, "owned_by": "moshi-mlx",
                    "kind": "conversation", "endpoint": "/api/chat"})
    return out


async def list_models(request, api):
    from aiohttp import web

    return web.Response(text=json.dumps({"object": "list", "data": _entries(api)}),
                        content_type="application/json")


async def one_model(request, api):
    from aiohttp import web

    wanted = request.match_info["model"]
    for entry in _entries(api):
        if entry["id"] == wanted:
            return web.Response(text=json.dumps(entry), content_type="application/json")
    raise ApiError(404, f"model {wanted!r} is not served here", param="model", code="model_not_found")
