"""Admission control: a bounded number of requests work with the database at once.

One event loop serves every request. With hundreds in progress, each `await` of a
request waits behind all the others, so a request holding a pooled connection holds
it for far longer than its queries take; the pool runs dry and requests time out
waiting for it (503), while the CPU does no more work than before. Measured at 256
connections, up to 10% of requests failed with 503 (pool time-out) without a cap.
By default the cap is the pool's size, so an admitted request never waits for a
connection; the rest of the wait happens here, in order, with no time-out.

Requests past the cap wait in order (FIFO) before their first query, doing no work
and holding nothing; the body of a request is read before, so a slow upload does
not hold a slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_slots: dict[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = {}


@asynccontextmanager
async def session_slot(limit: int) -> AsyncIterator[None]:
    """Hold one of `limit` slots of the running event loop (no cap when `limit` is 0)."""
    if limit <= 0:
        yield
        return
    loop = asyncio.get_running_loop()
    entry = _slots.get(loop)
    if entry is None or entry[0] != limit:
        for stale in [other for other in _slots if other.is_closed()]:
            del _slots[stale]
        entry = _slots[loop] = (limit, asyncio.Semaphore(limit))
    async with entry[1]:
        yield
