"""Reading a request's parameters: a multipart form with its file streamed to a temporary file
under a size and time limit, a JSON body, and the checks every parameter shares (known names,
allowed values)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile

from .errors import ApiError, invalid

UPLOAD_TIMEOUT_S = 300.0  # a whole upload; a client that trickles bytes is cut off
MAX_FIELD_BYTES = 64 * 1024  # a form field other than the file
JSON_MAX_BYTES = 256 * 1024


class Form:
    """The fields of a multipart form (lists for repeated names) and the uploaded file's path."""

    def __init__(self):
        self.fields: dict[str, list[str]] = {}
        self.file: str | None = None
        self.filename: str | None = None

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def close(self) -> None:
        if self.file:
            try:
                os.unlink(self.file)
            except OSError:
                pass


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the file is larger than this server's limit of {limit / 1e6:g} MB",
                    param="file", code="file_too_large")


async def read_form(request, max_bytes: int) -> Form:
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(415 if request.content_type else 400, "send the audio as multipart/form-data "
                       "with a `file` part (as OpenAI's clients do)", code="invalid_content_type")
    if request.content_length is not None and request.content_length > max_bytes + MAX_FIELD_BYTES * 8:
        raise too_large(max_bytes)
    form = Form()
    try:
        await asyncio.wait_for(_read_parts(request, form, max_bytes), UPLOAD_TIMEOUT_S)
    except asyncio.TimeoutError:
        form.close()
        raise ApiError(408, f"the upload took more than {UPLOAD_TIMEOUT_S:g} s", code="timeout") from None
    except BaseException:
        form.close()
        raise
    return form


async def _read_parts(request, form: Form, max_bytes: int) -> None:
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "file" and part.filename is not None:
                if form.file is not None:
                    raise invalid("file", "send one file per request")
                form.filename = part.filename
                fd, form.file = tempfile.mkstemp(prefix="moshi-upload-")
                with os.fdopen(fd, "wb") as f:
                    size = 0
                    while chunk := await part.read_chunk(256 * 1024):
                        size += len(chunk)
                        if size > max_bytes:
                            raise too_large(max_bytes)
                        f.write(chunk)
            else:
                data = await part.read(decode=True)
                if len(data) > MAX_FIELD_BYTES:
                    raise invalid(part.name or "?", f"the form field {part.name!r} is too long")
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise invalid(part.name or "?",
                                  f"the form field {part.name!r} is not UTF-8 text") from None
                form.fields.setdefault(part.name or "", []).append(text)
    except (ValueError, AssertionError) as e:  # aiohttp's multipart parser on a malformed body
        raise ApiError(400, f"malformed multipart body: {e}", code="invalid_body") from None


async def read_json(request) -> dict:
    if request.content_length is not None and request.content_length > JSON_MAX_BYTES:
        raise ApiError(413, f"the request body is larger than {JSON_MAX_BYTES // 1024} kB",
                       code="body_too_large")
    body = await asyncio.wait_for(request.content.read(JSON_MAX_BYTES + 1), UPLOAD_TIMEOUT_S)
    if len(body) > JSON_MAX_BYTES:
        raise ApiError(413, f"the request body is larger than {JSON_MAX_BYTES // 1024} kB",
                       code="body_too_large")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the body is not valid JSON: {e}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise ApiError(400, "the body must be a JSON object", code="invalid_json")
    return value


def check_names(given, known: set[str]) -> None:
    for name in given:
        if name not in known:
            raise ApiError(400, f"unknown parameter {name!r}", param=name, code="unknown_parameter")


def choice(param: str, value, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise invalid(param, f"{param} {value!r} is not supported here; choose from "
                      + ", ".join(allowed))
    return value


def number(param: str, value, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise invalid(param, f"{param} must be a number, got {value!r}") from None
    if isinstance(value, bool) or x != x or x in (float("inf"), float("-inf")):
        raise invalid(param, f"{param} must be a number, got {value!r}")
    return x
