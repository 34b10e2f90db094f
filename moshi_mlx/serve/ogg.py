"""Whole, checked Ogg pages out of the bytes a client sends, before they reach the Opus decoder.

sphn's `OpusStreamReader` (Kyutai's binding) loses sync for good on one stray byte: every later
call fails with "unexpected ogg capture pattern". It has no page-level API, so this module does what
libogg's `ogg_sync_pageseek` does: find the "OggS" capture pattern, check the header and the page's
CRC, hand on only whole valid pages, and skip anything else (resynchronising on the next "OggS").
Pages may arrive split across messages; a partial page is kept only until a message that starts a
new page arrives (all of Kyutai's clients send whole pages, so a dangling part is garbage).
One logical stream at a time: a page of another stream, or one that does not move the stream's page
sequence forward, is skipped; a beginning-of-stream page with an Opus header starts a new stream (`new_stream` tells the
caller to start a fresh decoder).
"""

from __future__ import annotations

CAPTURE = b"OggS"
HEADER_SIZE = 27  # fixed part: capture, version, type, granule, serial, sequence, crc, segments
BOS = 0x02  # header type flag: first page of a logical stream
MAX_PAGE_SIZE = HEADER_SIZE + 255 + 255 * 255


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def ogg_crc(data: bytes | bytearray | memoryview) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, initial value 0: not zlib's crc32)."""
    crc = 0
    table = _TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


def page_length(buf: bytes | bytearray, start: int = 0) -> int | None:
    """Length of the page whose header starts at `start`, or None while the header is incomplete."""
    if len(buf) - start < HEADER_SIZE:
        return None
    segments = buf[start + 26]
    if len(buf) - start < HEADER_SIZE + segments:
        return None
    return HEADER_SIZE + segments + sum(buf[start + HEADER_SIZE:start + HEADER_SIZE + segments])


def page_is_valid(page: bytes | bytearray) -> bool:
    if page[:4] != CAPTURE or page[4] != 0:  # capture pattern, stream structure version 0
        return False
    stored = int.from_bytes(page[22:26], "little")
    check = bytearray(page)
    check[22:26] = b"\0\0\0\0"
    return ogg_crc(check) == stored


class OggPageSync:
    """`push(message_bytes) -> list of whole valid pages`; counts what it had to skip."""

    def __init__(self):
        self._partial = bytearray()
        self.skipped_bytes = 0
        self.bad_pages = 0
        self._serial: int | None = None
        self._sequence = -1
        self.new_stream = False  # set when a page began a new stream; the caller clears it

    def push(self, data: bytes) -> list[bytes]:
        if self._partial and data[:4] == CAPTURE:
            self._drop(len(self._partial))  # a new page begins: the dangling part was garbage
            self._partial = bytearray()
        buf = self._partial + data
        self._partial = bytearray()
        pages, pos = [], 0
        while pos < len(buf):
            found = buf.find(CAPTURE, pos)
            if found < 0:
                # keep a possible start of "OggS" at the very end, skip the rest
                keep = next((k for k in (3, 2, 1) if buf.endswith(CAPTURE[:k])), 0)
                self._drop(len(buf) - pos - keep)
                pos = len(buf) - keep
                break
            self._drop(found - pos)
            length = page_length(buf, found)
            if length is None or found + length > len(buf):
                pos = found
                break  # incomplete: wait for the rest
            page = bytes(buf[found:found + length])
            if page_is_valid(page):
                if self._in_stream(page):
                    pages.append(page)
                else:
                    self.bad_pages += 1
                    self._drop(length)
                pos = found + length
            else:
                self.bad_pages += 1
                self._drop(1)
                pos = found + 1  # resynchronise after this false capture pattern
        rest = buf[pos:]
        if len(rest) > MAX_PAGE_SIZE:
            self._drop(len(rest))
        else:
            self._partial = bytearray(rest)
        return pages

    def _in_stream(self, page: bytes) -> bool:
        serial = int.from_bytes(page[14:18], "little")
        sequence = int.from_bytes(page[18:22], "little")
        starts = page[5] & BOS and page[HEADER_SIZE + page[26]:][:8] == b"OpusHead"
        if starts or self._serial is None:
            self.new_stream = self._serial is not None
            self._serial, self._sequence = serial, sequence
            return True
        if serial != self._serial or sequence <= self._sequence:
            return False
        self._sequence = sequence
        return True

    def _drop(self, n: int) -> None:
        self.skipped_bytes += n


class OpusInput:
    """A client's audio as Kyutai's clients send it: bytes of Ogg Opus pages in, PCM out.

    A new Opus stream gets a new decoder; bytes that are not a valid page and undecodable pages
    are reported through `skip(what)` and passed over (a fresh decoder takes the next page)."""

    def __init__(self, sample_rate: int, skip):
        import sphn

        self._sphn, self._rate, self._skip = sphn, sample_rate, skip
        self.pages = OggPageSync()
        self.reader = sphn.OpusStreamReader(sample_rate)

    def push(self, data: bytes) -> list:
        skipped, bad = self.pages.skipped_bytes, self.pages.bad_pages
        pages = self.pages.push(data)
        if self.pages.skipped_bytes > skipped or self.pages.bad_pages > bad:
            self._skip(f"audio message with {self.pages.skipped_bytes - skipped} bytes that are not "
                       f"a valid Ogg page")
        if self.pages.new_stream:  # the client started a new Opus stream: a new decoder for it
            self.pages.new_stream = False
            self.reader = self._sphn.OpusStreamReader(self._rate)
        out = []
        for page in pages:
            try:
                pcm = self.reader.append_bytes(page)
            except Exception as e:  # sphn raises ValueError; a fresh reader takes the next page
                self._skip(f"undecodable Opus page ({e})")
                self.reader = self._sphn.OpusStreamReader(self._rate)
                continue
            if pcm.size:
                out.append(pcm)
        return out
