"""The server's plain HTTP side: the token check shared by every route, the info page at `/`, the
static files of `--static` (never a file outside its folder: security.static_file) and the token
cookie the web UI's websocket is let in with. A mixin of ChatServer (its `_options`, `_emit` and
`_static_root`)."""

from __future__ import annotations

from . import security
from .events import ClientEvent


class HttpPages:
    async def _guard(self, request, handler):
        """Every request (aiohttp middleware): the Host check against DNS rebinding (security.py),
        and for the `/v1` endpoints the token and the Origin check, answered in OpenAI's shape."""
        from .openai.errors import error_response

        api = request.path.startswith("/v1/") or request.path == "/v1"
        if not security.host_allowed(request, self._options.host, self._options.token):
            self._emit(ClientEvent("refused", request.remote or "?", detail="unknown host name"))
            message = (f"this server answers only to its own address, not to the name "
                       f"{request.host!r}")
            if api:
                return error_response(403, message, code="host_not_allowed")
            from aiohttp import web

            return web.Response(status=403, text=f"403: {message}\n")
        if api:
            if not self._authorized(request):
                self._emit(ClientEvent("refused", request.remote or "?", detail="unauthorized"))
                return error_response(401, "this server needs its token: send 'Authorization: Bearer "
                                      "<token>' (the API key of OpenAI's clients)", code="invalid_api_key")
            if not security.origin_allowed(request):
                self._emit(ClientEvent("refused", request.remote or "?", detail="bad request"))
                return error_response(403, f"a page from {request.headers['Origin']} may not use "
                                      "this server", code="origin_not_allowed")
        return await handler(request)

    def _authorized(self, request) -> bool:
        token = self._options.token
        return not token or security.token_matches(security.token_from_request(request), token)

    def _unauthorized(self, request):
        from aiohttp import web

        self._emit(ClientEvent("refused", request.remote or "?", detail="unauthorized"))
        return web.Response(status=401, text="401: this Moshi server needs its token: open "
                            "/?token=<token>, or send 'Authorization: Bearer <token>'\n")

    async def _info(self, request):
        from aiohttp import web

        if not self._authorized(request):
            return self._unauthorized(request)
        scheme = "wss" if request.secure else "ws"
        return self._with_cookie(request, web.Response(content_type="text/html", text=(
            "<!doctype html><meta charset=utf-8><title>Moshi MLX server</title>"
            "<p>Moshi MLX server. Kyutai's clients connect to the websocket "
            f"<code>{scheme}://{request.host}/api/chat</code>.</p>"
            "<p>No web page is served: start the server with <code>--static DIR</code> "
            "(Kyutai's web UI) to talk from this browser.</p>")))

    async def _static(self, request):
        from aiohttp import web

        if not self._authorized(request):
            return self._unauthorized(request)
        path = security.static_file(self._static_root, request.path)
        if path is None:
            return web.Response(status=404, text="404: not found\n")
        return self._with_cookie(request, web.FileResponse(path))

    def _with_cookie(self, request, response):
        """After `/?token=...` the browser keeps the token as a cookie: the web UI's websocket
        (which cannot carry it in its URL) is let in with it."""
        token = self._options.token
        if token and "token" in request.query:
            response.set_cookie(security.COOKIE, token, httponly=True, samesite="Strict",
                                secure=request.secure, path="/")
        return response
