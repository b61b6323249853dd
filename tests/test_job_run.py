"""The import checkpoint under races: a run from an out-of-date job, two runs at once.

Each batch of an import commits with `rows_done` moved by a compare-and-set on the
value the run last saw, so a run working from a stale job record, or the slower of
two runs of one job, must lose the checkpoint (`CheckpointLost`) instead of inserting
a batch a second time. These tests commit for real (the runs use engines of their
own, as worker tasks do), so `committed_factory` deletes what they made.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import get_settings
from app.db.session import build_engine, make_session_factory
from app.models.item import Item
from app.models.job import Job
from app.services.item_import import validate_row
from app.services.job_run import CheckpointLost, JobRun, run_import, start_job
from tests.factories import make_user

pytestmark = pytest.mark.usefixtures("database_url")
ROWS = 50
BATCH = 10
BAD_ROWS = [7, 23]  # one in the first batch, one in a later one
VALID = ROWS - len(BAD_ROWS)
# Progress after each commit: four batches, the fifth (rows 41-50, at 99 until the
# end), then the final commit that records the result.
COMMITS = [20, 40, 60, 80, 99, 100]


class Crash(Exception):
    """A worker dying right after a commit."""


def _csv() -> bytes:
    lines = ["title,price"]
    for n in range(1, ROWS + 1):
        lines.append(f"Row {n},{'-1' if n in BAD_ROWS else f'{n}.00'}")
    return ("\n".join(lines) + "\n").encode()


def _expected_result() -> dict[str, Any]:
    errors = [{"row": n, "error": validate_row({"title": "x", "price": "-1"})} for n in BAD_ROWS]
    return {"created": VALID, "errors": errors}


@pytest.fixture
async def job(committed_factory: async_sessionmaker[AsyncSession], tmp_path: Path) -> Job:
    """A committed import job of 50 rows, as a task reads it before starting."""
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "rows.csv").write_bytes(_csv())
    async with committed_factory.begin() as session:
        owner = await make_user(session)
        row = Job(
            task_id=f"checkpoint-{owner.id}",
            kind="import",
            owner_id=owner.id,
            source_file="imports/rows.csv",
            source_format="csv",
            total_rows=ROWS,
        )
        session.add(row)
    started = await start_job(committed_factory, row.id, row.task_id)
    assert started is not None
    return started


@pytest.fixture
async def factories() -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """Session factories on two engines of their own: two workers' connections."""
    engines = [build_engine(get_settings()) for _ in range(2)]
    yield [make_session_factory(engine) for engine in engines]
    for engine in engines:
        await engine.dispose()


def _run(
    factory: async_sessionmaker[AsyncSession],
    job_path: Path,
    report: Callable[[int], None] = lambda _progress: None,
) -> JobRun:
    return JobRun(
        factory=factory,
        job_path=job_path,
        batch_size=BATCH,
        max_rows=1000,
        download_prefix="/api/v1",
        report=report,
    )


async def _current(factory: async_sessionmaker[AsyncSession], job: Job) -> Job:
    async with factory() as session:
        current = await session.get(Job, job.id)
        assert current is not None
        return current


async def _titles(factory: async_sessionmaker[AsyncSession], job: Job) -> Counter[str]:
    async with factory() as session:
        titles = await session.scalars(select(Item.title).where(Item.owner_id == job.owner_id))
        return Counter(titles)


def _expected_titles(upto: int = ROWS) -> Counter[str]:
    return Counter(f"Row {n}" for n in range(1, upto + 1) if n not in BAD_ROWS)


def _crash_after_first_commit(_progress: int) -> None:
    raise Crash


async def test_a_run_from_a_stale_job_record_loses_the_checkpoint(
    job: Job, committed_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    with pytest.raises(Crash):
        await run_import(_run(committed_factory, tmp_path, _crash_after_first_commit), job)
    current = await _current(committed_factory, job)
    assert (current.rows_done, current.created_count) == (BATCH, BATCH - 1)
    assert job.rows_done == 0  # what this record says is no longer true

    with pytest.raises(CheckpointLost):
        await run_import(_run(committed_factory, tmp_path), job)
    assert await _titles(committed_factory, job) == _expected_titles(BATCH)  # nothing twice
    current = await _current(committed_factory, job)
    assert (current.rows_done, current.created_count, current.status) == (
        BATCH,
        BATCH - 1,
        "PROGRESS",
    )

    # A run from the current record resumes after the committed batch and finishes.
    assert await run_import(_run(committed_factory, tmp_path), current) == _expected_result()
    assert await _titles(committed_factory, job) == _expected_titles()
    final = await _current(committed_factory, job)
    assert (final.status, final.rows_done, final.created_count) == ("SUCCESS", ROWS, VALID)
    assert final.result == _expected_result()


async def test_two_concurrent_runs_of_one_job_commit_each_batch_once(
    job: Job,
    committed_factory: async_sessionmaker[AsyncSession],
    factories: list[async_sessionmaker[AsyncSession]],
    tmp_path: Path,
) -> None:
    commits: list[list[int]] = [[], []]
    runs = [_run(factory, tmp_path, commits[n].append) for n, factory in enumerate(factories)]
    # Both runs read the job before either commits, as two deliveries of one task can.
    jobs = await asyncio.gather(*(start_job(run.factory, job.id, job.task_id) for run in runs))
    assert [j.rows_done if j else None for j in jobs] == [0, 0]
    outcomes = await asyncio.gather(
        *(run_import(run, j) for run, j in zip(runs, jobs, strict=True) if j is not None),
        return_exceptions=True,
    )

    lost = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, CheckpointLost)]
    assert len(lost) == 1, outcomes  # the slower run stops at its first commit...
    [winner] = {0, 1} - set(lost)
    assert outcomes[winner] == _expected_result()  # ...and the other finishes the job
    assert commits[lost[0]] == []
    assert commits[winner] == COMMITS  # each batch committed once, by one run
    assert await _titles(committed_factory, job) == _expected_titles()
    final = await _current(committed_factory, job)
    assert (final.status, final.rows_done, final.created_count) == ("SUCCESS", ROWS, VALID)
    assert final.result == _expected_result()
