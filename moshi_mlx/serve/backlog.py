"""How far behind a client is: the audio frames sent to it that have not reached it yet.

A client that reads slowly (a weak Wi-Fi link, a busy phone) must make the server drop Moshi's frames
rather than queue them: a queue is latency that never comes back. Sent bytes wait in three places
before the client has them: our outbox, the transport's buffer (asyncio) and the kernel's send queue
(bytes not yet acknowledged by the client's machine). The kernel's count is read with SIOCOUTQ on
Linux and SO_NWRITE on macOS; elsewhere it counts as 0 (the other two still bound the queue).
"""

from __future__ import annotations

import collections
import socket
import sys

SO_NWRITE = 0x1024  # macOS <sys/socket.h>: bytes in the send buffer not yet acknowledged


def kernel_unsent_bytes(sock: socket.socket | None) -> int:
    """Bytes in `sock`'s kernel send queue (written, not yet acknowledged by the peer)."""
    if sock is None:
        return 0
    try:
        if sys.platform.startswith("linux"):
            import array
            import fcntl
            import termios

            buf = array.array("i", [0])
            fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf)  # TIOCOUTQ == SIOCOUTQ
            return int(buf[0])
        if sys.platform == "darwin":
            return int(sock.getsockopt(socket.SOL_SOCKET, SO_NWRITE))
    except (OSError, ValueError):
        pass
    return 0


class SendBacklog:
    """Counts the bytes handed to the connection and where each audio frame ends in that count;
    `frames_in_flight(unsent)` = audio frames not fully delivered when `unsent` bytes still wait."""

    def __init__(self):
        self.total = 0
        self._frame_ends: collections.deque[int] = collections.deque()

    def add(self, nbytes: int, audio_frame: bool = False) -> None:
        self.total += nbytes
        if audio_frame:
            self._frame_ends.append(self.total)

    def frames_in_flight(self, unsent: int) -> int:
        delivered = self.total - max(0, unsent)
        ends = self._frame_ends
        while ends and ends[0] <= delivered:
            ends.popleft()
        return len(ends)
