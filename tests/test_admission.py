"""Admission control: a bounded number of requests hold a database session at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.config import get_settings
from app.db.admission import session_slot
from app.main import create_application


async def test_at_most_limit_holders_enter_in_order() -> None:
    inside = 0
    peak = 0
    entered: list[int] = []

    async def worker(n: int) -> None:
        nonlocal inside, peak
        async with session_slot(2):
            inside += 1
            peak = max(peak, inside)
            entered.append(n)
            await asyncio.sleep(0.01)
            inside -= 1

    tasks = []
    for n in range(6):
        tasks.append(asyncio.create_task(worker(n)))
        await asyncio.sleep(0)  # start them in order
    await asyncio.gather(*tasks)
    assert peak == 2
    assert entered == list(range(6))


async def test_zero_means_no_cap() -> None:
    inside = 0
    peak = 0

    async def worker() -> None:
        nonlocal inside, peak
        async with session_slot(0):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(5)))
    assert peak == 5


@pytest.mark.usefixtures("database_url")
async def test_many_concurrent_requests_all_succeed(monkeypatch: pytest.MonkeyPatch) -> None:
    # 60 requests at once through the real session dependency, 3 sessions at a time.
    monkeypatch.setenv("DB_SESSION_LIMIT", "3")
    get_settings.cache_clear()
    try:
        transport = httpx.ASGITransport(app=create_application())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = await asyncio.gather(
                *(client.get("/api/v1/items", params={"page_size": 1}) for _ in range(60))
            )
    finally:
        monkeypatch.delenv("DB_SESSION_LIMIT")
        get_settings.cache_clear()
    assert {answer.status_code for answer in answers} == {200}
