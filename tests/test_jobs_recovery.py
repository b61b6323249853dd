"""A worker killed in the middle of an import: the next worker finishes the job exactly.

The task is acknowledged late, so the broker hands it out again (the embedded broker
when the next worker finds the dead one's lock free; Redis after the visibility
timeout), and the job resumes from its last committed batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models.item import Item
from app.models.job import Job
from tests.factories import committed_user_headers
from tests.workers import BROKERS, Broker, Worker, use_broker, wait_for_task

pytestmark = pytest.mark.usefixtures("database_url")
ROWS = 8_000
BATCH = 80


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Broker]:
    # Small batches: the kill lands between commits. A short visibility timeout: Redis
    # hands the unacknowledged task out again after a few seconds, not half an hour.
    settings = {"IMPORT_BATCH_SIZE": str(BATCH), "CELERY_VISIBILITY_TIMEOUT": "2"}
    with use_broker(request.param, tmp_path / "jobs", **settings) as chosen:
        yield chosen


def _csv() -> tuple[bytes, list[int]]:
    lines, bad = ["title,description,price"], []
    for n in range(1, ROWS + 1):
        if n % 97 == 0:
            bad.append(n)
            lines.append(f"Item {n},bad price,-{n}")
        else:
            lines.append(f"Item {n},row {n},{n % 1000}.{n % 100:02d}")
    return ("\n".join(lines) + "\n").encode(), bad


async def _job_and_count(
    factory: async_sessionmaker[AsyncSession], task_id: str
) -> tuple[Job, int]:
    async with factory() as session:
        job = await session.scalar(select(Job).where(Job.task_id == task_id))
        assert job is not None
        count = await session.scalar(select(func.count()).where(Item.owner_id == job.owner_id))
        return job, count or 0


async def test_import_killed_mid_way_is_finished_by_the_next_worker(
    broker: Broker,
    live_client: httpx.AsyncClient,
    committed_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    headers = await committed_user_headers(committed_factory)
    body, bad_rows = _csv()
    first = Worker(broker, tmp_path / "first.log")
    try:
        response = await live_client.post(
            "/api/v1/items/import", files={"file": ("big.csv", body, "text/csv")}, headers=headers
        )
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
        await wait_for_task(live_client, task_id, headers, until=("PROGRESS",), poll=0.02)
    finally:
        first.kill()

    job, count = await _job_and_count(committed_factory, task_id)
    assert job.status == "PROGRESS", "the import finished before the worker was killed"
    assert 0 < job.rows_done < ROWS
    assert count == job.created_count  # each batch committed with its checkpoint

    second = Worker(broker, tmp_path / "second.log")
    try:
        task = await wait_for_task(live_client, task_id, headers, within=90)
    finally:
        second.stop()
    assert task["status"] == "SUCCESS", task
    assert task["result"]["created"] == ROWS - len(bad_rows)
    assert [error["row"] for error in task["result"]["errors"]] == bad_rows
    _, count = await _job_and_count(committed_factory, task_id)
    assert count == ROWS - len(bad_rows)  # nothing inserted twice
