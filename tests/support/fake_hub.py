"""A Hugging Face hub stand-in on 127.0.0.1: answers huggingface_hub's HEAD/GET for file downloads
(X-Repo-Commit, ETag = LFS sha256, Content-Length, Range requests for resuming) and its repo file
listing (/api/models/<repo>/tree/<revision>). `chunk_delay_s` slows GETs so that a test can watch
progress and cancel; `fail_repos` answer 500. Use it as a context manager or start()/stop()."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
import time
import urllib.parse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]], chunk_size: int = 65536,
                 chunk_delay_s: float = 0.0):
        self.repos = self.files = repos  # repo_id -> filename -> content
        self.chunk_size = chunk_size
        self.chunk_delay_s = chunk_delay_s
        self.fail_repos: set[str] = set()  # answer 500 for these
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.corrupt: set[str] = set()  # filenames whose ETag will not match their content
        self.gated: dict[str, int] = {}  # repo -> 401 or 403 (licence not accepted, no token)
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _lookup(self):
                # file names come %-escaped ("@" as %40)
                m = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", urllib.parse.unquote(self.path.split("?")[0]))
                name = m.group(3) if m else None
                if not m or m.group(1) not in hub.repos or name not in hub.repos[m.group(1)]:
                    return None, None
                return name, hub.repos[m.group(1)][name]

            def _headers(self, name, data, status=200, start=0):
                etag = hashlib.sha256(data + (b"x" if name in hub.corrupt else b"")).hexdigest()
                self.send_response(status)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("X-Linked-Etag", f'"{etag}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Content-Length", str(len(data) - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()

            def _refused(self):
                repo = self.path.lstrip("/").split("/resolve/")[0]
                if repo in hub.fail_repos:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return True
                status = hub.gated.get(repo)
                if status is None:
                    return False
                self.send_response(status)
                self.send_header("X-Error-Code", "GatedRepo")
                self.send_header("X-Error-Message", "Access to this model is restricted.")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True

            def do_HEAD(self):
                hub.requests.append(("HEAD", self.path, self.headers.get("Range")))
                if self._refused():
                    return
                name, data = self._lookup()
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                self._headers(name, data)

            def _tree(self) -> bool:
                """The hub API's recursive file listing (HfApi.list_repo_files), one page."""
                m = re.fullmatch(r"/api/models/(.+?)/tree/[^/]+", self.path.split("?")[0])
                if not m:
                    return False
                files = hub.repos.get(m.group(1))
                if files is None:  # as the Hub: an error object, not a listing
                    body = json.dumps({"error": "Repository not found"}).encode()
                    self.send_response(404)
                    self.send_header("X-Error-Code", "RepoNotFound")
                else:
                    body = json.dumps([{"type": "file", "path": name, "size": len(data),
                                        "oid": hashlib.sha1(data).hexdigest()}
                                       for name, data in files.items()]).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return True

            def do_GET(self):
                rng = self.headers.get("Range")
                hub.requests.append(("GET", self.path, rng))
                if self._refused() or self._tree():
                    return
                name, data = self._lookup()
                if data is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                start = int(re.match(r"bytes=(\d+)-", rng).group(1)) if rng else 0
                self._headers(name, data, 206 if rng else 200, start)
                try:
                    for i in range(start, len(data), hub.chunk_size):
                        self.wfile.write(data[i:i + hub.chunk_size])
                        if hub.chunk_delay_s:
                            self.wfile.flush()
                            time.sleep(hub.chunk_delay_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeHub":
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def point_hub_at(monkeypatch, server: FakeHub, chunk_bytes: int = 32_768) -> None:
    """Make huggingface_hub (and moshi_mlx.hub's downloads) use `server` for this test."""
    from huggingface_hub import constants

    from moshi_mlx import hub

    monkeypatch.setattr(constants, "ENDPOINT", server.url)  # what HF_ENDPOINT sets at import
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        server.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
