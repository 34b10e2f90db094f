"""A /v1 model slot while a session holds the MLX worker: refused at once while the session runs;
once its client has gone (the session is only being stopped), the request waits for its end."""

import asyncio

import pytest

from moshi_mlx.serve.openai import slots
from moshi_mlx.serve.openai.errors import ApiError


async def _use(slot) -> str:
    async with slot.turn() as engine:
        return engine


def _slot():
    slot = slots.ModelSlot("tts", "demo-tts", queue=2)
    slot.loaded("the engine")
    return slot


def test_a_running_session_refuses_at_once():
    async def go():
        slot = _slot()
        slot.block("a session runs")
        loop = asyncio.get_running_loop()
        t = loop.time()
        with pytest.raises(ApiError) as e:
            await _use(slot)
        assert e.value.status == 503 and "a session runs" in str(e.value)
        assert loop.time() - t < 0.5
        slot.block(None)
        assert await _use(slot) == "the engine"

    asyncio.run(go())


def test_an_ending_session_is_waited_for():
    async def go():
        slot = _slot()
        slot.block("a session runs")
        slot.block(slot.blocked, ending=True)
        asyncio.get_running_loop().call_later(0.2, slot.block, None)
        assert await _use(slot) == "the engine"
        assert not slot.ending

    asyncio.run(go())


def test_a_session_that_does_not_end_in_the_grace_is_refused(monkeypatch):
    monkeypatch.setattr(slots, "ENDING_GRACE_S", 0.2)

    async def go():
        slot = _slot()
        slot.block("a session runs", ending=True)
        with pytest.raises(ApiError) as e:
            await _use(slot)
        assert e.value.status == 503

    asyncio.run(go())
