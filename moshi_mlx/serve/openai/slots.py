"""The models of the `/v1` endpoints: each loaded once on the MLX worker before it answers (a
request that comes during the load waits for it), then used by one request at a time, with at
most `queue` requests waiting for their turn; one more gets 429 with Retry-After. While a session
(/v1/realtime, /api/chat) holds the MLX worker they get 503; once its client has gone and it is only
being stopped, they wait for it to end (up to ENDING_GRACE_S) instead."""

from __future__ import annotations

import asyncio
import contextlib
import time

from .errors import ApiError

RETRY_AFTER_S = 2
ENDING_GRACE_S = 10.0  # a session whose client has gone stops within a frame or two; this is a bound


class ModelSlot:
    def __init__(self, kind: str, spec: str, queue: int):
        self.kind, self.spec, self.queue = kind, spec, queue  # kind: "stt" or "tts"
        self.engine = None  # the loaded model's engine (SttEngine / TtsEngine), once ready
        self.failed: str | None = None
        self.created = int(time.time())
        self._ready = asyncio.Event()
        self._turn = asyncio.Lock()
        self._users = 0  # the request being served and those waiting
        self.blocked: str | None = None  # why requests are refused now (a realtime session runs)
        self.ending = False  # the blocking session's client has gone: wait for it rather than refuse
        self._unblocked = asyncio.Event()
        self._unblocked.set()

    @property
    def id(self) -> str:
        """The model id clients send and /v1/models lists: the spec given to `serve`."""
        return self.spec

    def block(self, why: str | None, ending: bool = False) -> None:
        """Refuse requests with 503 `why` (None: answer them again); `ending`: wait for the end."""
        self.blocked, self.ending = why, ending and why is not None
        if why:
            self._unblocked.clear()
        else:
            self._unblocked.set()

    def loaded(self, engine) -> None:
        self.engine = engine
        self._ready.set()

    def failed_to_load(self, why: str) -> None:
        self.failed = why
        self._ready.set()

    @contextlib.asynccontextmanager
    async def turn(self):
        """This request's turn with the model: waits for the load, then for the requests before it."""
        await self._check_blocked()
        if self._users > self.queue:
            raise ApiError(429, f"the {self.spec} model is busy with {self._users} requests; try again "
                           "in a moment", code="rate_limit_exceeded",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
        self._users += 1
        try:
            await self._ready.wait()
            if self.engine is None:
                raise ApiError(503, f"the {self.spec} model could not be loaded: {self.failed}",
                               code="model_not_loaded")
            async with self._turn:
                await self._check_blocked()
                yield self.engine
        finally:
            self._users -= 1

    async def _check_blocked(self) -> None:
        if self.blocked and self.ending:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._unblocked.wait(), ENDING_GRACE_S)
        if self.blocked:
            raise ApiError(503, self.blocked, code="realtime_session_running",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
