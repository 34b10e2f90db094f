"""Who may connect and what may be read: addresses, the token, TLS, static files.

- The server listens on 127.0.0.1 unless told otherwise. Any other address needs a token.
- The token may come as `Authorization: Bearer <token>`, as the `token` query parameter, or as the
  cookie set when a browser opened `/?token=<token>` (so that Kyutai's web UI, which builds its own
  websocket URL, is let in too). It is compared in constant time.
- Static files: only regular files under the `--static` folder, after resolving links; hidden names
  and `..` never. Checked here rather than left to aiohttp's static route, whose path handling has
  had traversal bugs (CVE-2024-23334), so that the rule is ours and tested.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import ssl
from pathlib import Path

from ..errors import MoshiError

COOKIE = "moshi_token"
LOOPBACK_NAMES = ("localhost", "ip6-localhost")
MIN_TOKEN_CHARS = 16


class ServeConfigError(MoshiError):
    """A server option that cannot work (address without token, missing certificate...)."""


def is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(18)


def check_token(token: str | None) -> None:
    """A token that guards nothing is refused: empty, blank, or guessable by its shortness."""
    if token is None:
        return
    if not token.strip():
        raise ServeConfigError("--token: the token is empty or blank; give a secret of at least "
                               f"{MIN_TOKEN_CHARS} characters, or --token auto to generate one")
    if token != token.strip() or any(c.isspace() or ord(c) < 32 for c in token):
        raise ServeConfigError("--token: the token may not contain spaces or control characters; "
                               "use --token auto to generate one")
    if len(token) < MIN_TOKEN_CHARS:
        raise ServeConfigError(f"--token: {len(token)} characters is too short to be a secret; give "
                               f"at least {MIN_TOKEN_CHARS}, or --token auto to generate one")


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison (the time does not depend on how much of the token is right)."""
    if given is None:
        given = ""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))


def token_from_request(request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if "token" in request.query:
        return request.query["token"]
    return request.cookies.get(COOKIE)


def exposure_warnings(host: str, token: str | None, tls: bool) -> list[str]:
    """Refuse a non-local address without a token, and a token too weak to be one; return the
    warnings to show loudly."""
    check_token(token)
    if is_loopback(host):
        return []
    if not token:
        raise ServeConfigError(
            f"--host {host} lets other devices connect: give a secret with --token SECRET (or "
            "--token auto to generate one); without a token only 127.0.0.1 and ::1 are allowed")
    if tls:
        return []
    return [f"WARNING: serving on {host} over plain HTTP: the token, your voice and Moshi's answers "
            "cross the network unencrypted, and browsers allow the microphone only on https pages "
            "(or localhost). Use --ssl DIR (cert.pem and key.pem) on any network you do not fully "
            "trust."]


def origin_allowed(request) -> bool:
    """A browser page from another site may not open a conversation (cross-site websocket
    hijacking): its Origin must name this server. Non-browser clients send no Origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    from yarl import URL

    try:
        url = URL(origin)
    except ValueError:
        return False
    return url.host is not None and f"{url.host}:{url.port}".lower() == _host_port(request).lower()


def host_allowed(request, bound_host: str, token: str | None) -> bool:
    """DNS rebinding: a page of evil.example whose name was made to point at 127.0.0.1 reaches a
    tokenless local server with `Host: evil.example`. Without a token only a loopback name or
    address, or the address the server listens on, may be named. With a token the token decides.
    A request without Host (not a browser: browsers always send it) is let through."""
    if token:
        return True
    host = request.headers.get("Host")
    if host is None:
        return True
    name = _host_port(request).rpartition(":")[0]
    return is_loopback(name) or name.lower() == bound_host.strip("[]").lower()


def _host_port(request) -> str:
    host = request.host  # the Host header: name[:port]
    if host.startswith("["):  # [v6]:port
        name, _, port = host[1:].partition("]")
        port = port.lstrip(":")
    else:
        name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    default = 443 if request.secure else 80
    return f"{name}:{port or default}"


def ssl_context(folder: str | os.PathLike) -> ssl.SSLContext:
    """TLS from `folder`/cert.pem and `folder`/key.pem (Kyutai's server's convention)."""
    folder = Path(folder).expanduser()
    cert, key = folder / "cert.pem", folder / "key.pem"
    for path in (cert, key):
        if not path.is_file():
            raise ServeConfigError(f"--ssl {folder}: {path.name} not found (the folder must hold "
                                   "cert.pem and key.pem)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (ssl.SSLError, ValueError, OSError) as e:
        raise ServeConfigError(f"--ssl {folder}: cannot use cert.pem / key.pem: {e}") from None
    return context


def static_root(folder: str | os.PathLike) -> Path:
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ServeConfigError(f"--static {folder}: not a folder")
    return root.resolve()


def static_file(root: Path, url_path: str) -> Path | None:
    """The file that `url_path` (the request's decoded path) names under `root`, or None."""
    rel = url_path[1:] if url_path.startswith("/") else url_path
    if rel == "" or rel.endswith("/"):
        rel += "index.html"
    if "\\" in rel or "\0" in rel:
        return None
    parts = rel.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    candidate = root.joinpath(*parts)
    if candidate.is_dir():
        candidate = candidate / "index.html"
    try:
        target = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if root not in target.parents:
        return None  # a link that leads outside
    return target if target.is_file() else None
