"""Network helpers for the server tests: a throttling TCP proxy (a slow link) and a raw websocket
client that can stop in the middle of a frame."""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time
import urllib.error
import urllib.request


class ThrottledProxy:
    """client <-> proxy <-> server, one connection at a time. Server-to-client bytes are read at
    `rate` bytes per second (None: as fast as they come) through a minimal receive buffer, like a
    slow network link: the server's kernel sees its bytes wait unacknowledged."""

    def __init__(self, server_port: int, rate: float | None = None):
        self.server_port = server_port
        self.rate = rate
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.forwarded = 0
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # before connect
            upstream.connect(("127.0.0.1", self.server_port))
            self._socks += [client, upstream]
            for src, dst, slow in ((client, upstream, False), (upstream, client, True)):
                t = threading.Thread(target=self._pump, args=(src, dst, slow), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, slow: bool) -> None:
        try:
            while True:
                rate = self.rate if slow else None
                chunk = 256 if rate else 65536
                data = src.recv(chunk)
                if not data:
                    break
                dst.sendall(data)
                if slow:
                    self.forwarded += len(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        for s in self._socks:
            s.close()


class RawWebsocket:
    """Just enough of RFC 6455 to misbehave on purpose."""

    def __init__(self, port: int, path: str = "/api/chat", headers: dict | None = None,
                 rcvbuf: int | None = None, host: str | None = None):
        """`rcvbuf`: a small receive buffer (set before connecting, as a slow device has);
        `host`: the Host header (default: the address connected to)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ")[1])

    @staticmethod
    def frame(payload: bytes, opcode: int = 2) -> bytes:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return header + mask + masked

    def read_message(self) -> bytes:
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7F
                offset = 2
                if n == 126:
                    n, offset = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127:
                    n, offset = struct.unpack("!Q", self.buf[2:10])[0], 10
                if len(self.buf) >= offset + n:
                    payload, self.buf = self.buf[offset:offset + n], self.buf[offset + n:]
                    return payload
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data

    def abort(self) -> None:
        """Close with a reset, as a device that vanishes."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def http(url: str, body=None, headers: dict | None = None, method: str | None = None):
    """(status, headers, body bytes) of one plain request; an iterable body is sent chunked."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def form(fields: dict, boundary: str = "b0undary") -> tuple[bytes, dict]:
    parts = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                     .encode() for k, v in fields.items())
    return parts + f"--{boundary}--\r\n".encode(), {
        "Content-Type": f"multipart/form-data; boundary={boundary}"}
