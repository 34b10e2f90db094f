"""OpenAI-style errors: `{"error": {"message", "type", "param", "code"}}` with the HTTP status that
OpenAI's clients map to their exception classes (400 BadRequestError, 401 AuthenticationError, 404
NotFoundError, 413, 429 RateLimitError, 5xx InternalServerError)."""

from __future__ import annotations

import json

from ...errors import MoshiError

TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         408: "invalid_request_error",
         404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
         415: "invalid_request_error", 429: "rate_limit_error", 503: "server_error",
         504: "server_error"}


class ApiError(MoshiError):
    """A request the endpoints refuse: the message is for the client's user, one line."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers = headers or {}

    def response(self):
        return error_response(self.status, self.message, self.param, self.code, self.headers)


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": TYPES.get(status, "server_error"), "param": param,
                      "code": code}}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None,
                   headers: dict | None = None):
    from aiohttp import web

    return web.Response(status=status, headers=headers, content_type="application/json",
                        text=json.dumps(error_body(status, message, param, code)))


def invalid(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)
