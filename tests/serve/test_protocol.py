"""The protocol's pieces without a server: query parameters, Ogg page checking, send backlog,
input frame dropping."""

import asyncio
import time

import numpy as np
import pytest
import sphn

from moshi_mlx.engine.core import Sampling
from moshi_mlx.serve import protocol
from moshi_mlx.serve.backlog import SendBacklog, kernel_unsent_bytes
from moshi_mlx.serve.ogg import OggPageSync, ogg_crc, page_is_valid, page_length
from moshi_mlx.serve.session import InputFrames


def test_message_kinds_match_kyutais_clients():
    assert protocol.handshake() == b"\x00"
    assert protocol.audio_message(b"OggS..") == b"\x01OggS.."
    assert protocol.text_message(" héllo") == b"\x02" + " héllo".encode()
    assert protocol.error_message("busy") == b"\x05busy"


def test_query_defaults_and_kyutai_web_client_parameters():
    default = Sampling(0.7, 25, 0.8, 250, None)
    assert protocol.params_from_query({}, default).sampling == default
    # exactly what Kyutai's web UI sends (its defaults, random seeds)
    query = {"text_temperature": "0.7", "text_topk": "25", "audio_temperature": "0.8",
             "audio_topk": "250", "pad_mult": "0", "text_seed": "123456", "audio_seed": "654321",
             "repetition_penalty_context": "64", "repetition_penalty": "1"}
    assert set(query) == set(protocol.WEB_CLIENT_PARAMS)
    params = protocol.params_from_query(query, default)
    assert params.notes == []
    s = params.sampling
    assert (s.text_temperature, s.text_top_k, s.audio_temperature, s.audio_top_k) == (0.7, 25, 0.8, 250)
    assert s.seed == (123456 << 31) | 654321
    other = protocol.params_from_query({**query, "audio_seed": "654322"}, default).sampling
    assert other.seed != s.seed
    changed = protocol.params_from_query(
        {"text_temperature": "0", "audio_topk": "100", "seed": "7", "text_seed": "1"}, default).sampling
    assert changed == Sampling(0.0, 25, 0.8, 100, 7)  # our `seed` wins over Kyutai's pair
    noted = protocol.params_from_query({"pad_mult": "1.5", "repetition_penalty": "1.2"}, default)
    assert len(noted.notes) == 2 and all("not supported" in n for n in noted.notes)


@pytest.mark.parametrize("query, words", [
    ({"text_temperature": "hot"}, "text_temperature='hot' is not a number"),
    ({"audio_temperature": "nan"}, "not a finite number"),
    ({"text_temperature": "-1"}, "temperature from 0"),
    ({"audio_topk": "2.5"}, "whole number"),
    ({"text_topk": "0"}, "whole number from 1"),
    ({"text_seed": "-3"}, "text_seed"),
])
def test_query_errors_name_the_parameter(query, words):
    with pytest.raises(protocol.QueryError, match=words.replace("(", r"\(")):
        protocol.params_from_query(query, Sampling())


def _opus_pages(frames: int = 6) -> tuple[list[bytes], list[bytes]]:
    """(messages as sphn writes them, the pages in them)."""
    writer = sphn.OpusStreamWriter(24000)
    t = np.arange(1920) / 24000
    messages = [writer.append_pcm((0.3 * np.sin(2 * np.pi * 220 * (t + i))).astype(np.float32))
                for i in range(frames)]
    pages = []
    for m in messages:
        pos = 0
        while pos < len(m):
            n = page_length(m, pos)
            pages.append(m[pos:pos + n])
            pos += n
    return messages, pages


def test_ogg_crc_matches_pages_written_by_sphn():
    _, pages = _opus_pages(3)
    for page in pages:
        assert page_is_valid(page)
        zeroed = bytearray(page)
        zeroed[22:26] = b"\0\0\0\0"
        assert ogg_crc(zeroed) == int.from_bytes(page[22:26], "little")
    broken = bytearray(pages[-1])
    broken[-1] ^= 1
    assert not page_is_valid(broken)


def test_ogg_sync_passes_whole_pages_and_skips_garbage():
    messages, pages = _opus_pages(6)
    sync = OggPageSync()
    assert [p for m in messages for p in sync.push(m)] == pages
    assert sync.skipped_bytes == 0
    # split anywhere: pages come out whole once complete
    sync = OggPageSync()
    stream = b"".join(messages)
    out = []
    for i in range(0, len(stream), 37):
        out += sync.push(stream[i:i + 37])
    assert out == pages
    # garbage before, between and inside: the valid pages still come out, nothing else
    rng = np.random.default_rng(0)
    sync = OggPageSync()
    corrupted = bytearray(pages[3])
    corrupted[40] ^= 0xFF
    got = []
    for chunk in (rng.bytes(100), pages[0], b"OggS" + rng.bytes(60), pages[1], pages[2],
                  bytes(corrupted), b"\x00" * 10, pages[4], b"OggS\x00\x02" + b"\xff" * 30, pages[5]):
        got += sync.push(chunk)
    assert got == [pages[0], pages[1], pages[2], pages[4], pages[5]]
    assert sync.skipped_bytes > 0 and sync.bad_pages >= 1
    # and sphn decodes what passed
    reader = sphn.OpusStreamReader(24000)
    assert sum(reader.append_bytes(p).size for p in got) > 0


def test_ogg_sync_memory_is_bounded():
    sync = OggPageSync()
    for _ in range(200):
        sync.push(b"x" * 10_000)
    assert len(sync._partial) <= 3
    # a header claiming a huge page waits, but only until the next message starts a page
    _, pages = _opus_pages(2)
    fake = bytearray(pages[2][:27]) + bytes([255]) + b"\xff" * 255
    assert sync.push(bytes(fake)) == []
    assert sync.push(pages[2]) == [pages[2]]


def test_send_backlog_counts_frames_not_yet_delivered():
    backlog = SendBacklog()
    for _ in range(5):
        backlog.add(100, audio_frame=True)
        backlog.add(10)  # text
    assert backlog.total == 550  # audio frames end at 100, 210, 320, 430, 540
    assert backlog.frames_in_flight(330) == 3  # 220 delivered
    assert backlog.frames_in_flight(110) == 1
    assert backlog.frames_in_flight(0) == 0
    backlog.add(100, audio_frame=True)
    assert backlog.frames_in_flight(100) == 1
    assert kernel_unsent_bytes(None) == 0


def test_input_frames_drop_stale_frames_not_fresh_ones():
    async def scenario():
        frames = InputFrames(1920, max_wait_s=0.24)
        now = time.monotonic()
        frames.push(np.ones(960, np.float32), now - 1.0)
        assert frames.received == 0
        frames.push(np.ones(960 + 1920 * 3, np.float32), now - 1.0)  # 4 frames, a second old
        frames.push(np.full(1920, 2.0, np.float32), now)  # 1 fresh frame
        pcm, arrived = await frames.next()
        assert frames.received == 5 and frames.dropped == 4
        assert arrived == now and pcm[0] == 2.0
        # a burst of fresh frames is kept whole (the engine may catch up)
        frames.push(np.zeros(1920 * 6, np.float32), time.monotonic())
        for _ in range(6):
            await frames.next()
        assert frames.dropped == 4
        # the hard bound holds whatever the lag setting
        big = InputFrames(1920, max_wait_s=1e9)
        big.push(np.zeros(1920 * 100, np.float32), time.monotonic())
        assert big.dropped == 36

    asyncio.run(scenario())
