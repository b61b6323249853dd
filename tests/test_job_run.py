"""The import checkpoint under races: a run from an out-of-date job, two runs at once.

Each batch of an import commits with `rows_done` moved by a compare-and-set on the
value the run last saw, so a run working from a stale job record, or the slower of
two runs of one job, must lose the checkpoint (`CheckpointLost`) instead of inserting
a batch a second time. These tests commit for real (the runs use engines of their
own, as worker tasks do), so `committed_factory` deletes what they made.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import get_settings
from app.db.base import utcnow
from app.db.session import build_engine, make_session_factory
from app.models.item import Item
from app.models.job import Job
from app.models.user import User
from app.services.item_import import validate_row
from app.services.job_run import (
    CheckpointLost,
    JobError,
    JobRun,
    fail_job,
    run_export,
    run_import,
    start_job,
)
from tests.factories import make_item, make_user

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


async def _new_job(
    factory: async_sessionmaker[AsyncSession], kind: str = "import", **fields: Any
) -> Job:
    """A committed job of a new user, as a task reads it before starting."""
    async with factory.begin() as session:
        owner = await make_user(session)
        row = Job(task_id=f"{kind}-{owner.id}", kind=kind, owner_id=owner.id, **fields)
        session.add(row)
    started = await start_job(factory, row.id, row.task_id)
    assert started is not None
    return started


@pytest.fixture
async def job(committed_factory: async_sessionmaker[AsyncSession], tmp_path: Path) -> Job:
    """A committed import job of 50 rows."""
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "rows.csv").write_bytes(_csv())
    return await _new_job(
        committed_factory, source_file="imports/rows.csv", source_format="csv", total_rows=ROWS
    )


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

    with pytest.raises(CheckpointLost, match=job.task_id):
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
    assert final.finished_at is not None


async def test_a_run_that_finds_the_job_finished_by_another_stops(
    job: Job, committed_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    def crash_after_the_last_batch(progress: int) -> None:
        if progress == 99:
            raise Crash

    with pytest.raises(Crash):
        await run_import(_run(committed_factory, tmp_path, crash_after_the_last_batch), job)
    # Every row is committed; only the result is missing. Two runs read this record...
    record = await _current(committed_factory, job)
    assert (record.rows_done, record.status) == (ROWS, "PROGRESS")
    # ...the first records the result, the second must leave it alone.
    assert await run_import(_run(committed_factory, tmp_path), record) == _expected_result()
    finished = await _current(committed_factory, job)
    (tmp_path / "imports" / "rows.csv").write_bytes(_csv())  # the first run removed it
    with pytest.raises(CheckpointLost):
        await run_import(_run(committed_factory, tmp_path), record)
    final = await _current(committed_factory, job)
    assert (final.status, final.result, final.finished_at) == (
        "SUCCESS",
        _expected_result(),
        finished.finished_at,
    )
    assert await _titles(committed_factory, job) == _expected_titles()


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


@pytest.mark.parametrize(
    ("fields", "content", "message"),
    [
        ({}, None, "^This job has no file to import$"),
        (
            {"source_file": "up.csv", "source_format": "xml"},
            b"title,price\n",
            "^This job has no file to import$",
        ),
        (
            {"source_file": "up.csv", "source_format": "csv"},
            None,
            "^The uploaded file is no longer available; upload it again$",
        ),
        (
            {"source_file": "up.csv", "source_format": "csv"},
            b"title,price\n\xff,1\n",
            "The file is not valid UTF-8",
        ),
        (
            {"source_file": "up.csv", "source_format": "csv"},
            b"title,price\n" + b"Row,1\n" * 11,
            "The file has more than 10 rows",
        ),
    ],
)
async def test_an_import_that_cannot_run_is_a_job_error_and_changes_nothing(
    committed_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    fields: dict[str, Any],
    content: bytes | None,
    message: str,
) -> None:
    if content is not None:
        (tmp_path / "up.csv").write_bytes(content)
    job = await _new_job(committed_factory, **fields)
    run = JobRun(committed_factory, tmp_path, batch_size=ROWS, max_rows=10, download_prefix="")
    with pytest.raises(JobError, match=message):
        await run_import(run, job)
    assert await _titles(committed_factory, job) == Counter()
    current = await _current(committed_factory, job)
    assert (current.status, current.rows_done, current.created_count) == ("STARTED", 0, 0)


async def test_a_failure_is_recorded_once_and_never_over_a_finished_job(
    committed_factory: async_sessionmaker[AsyncSession], job: Job, tmp_path: Path
) -> None:
    run = _run(committed_factory, tmp_path)
    bystander = await _new_job(committed_factory)
    await fail_job(run, job, "The job ran out of time")
    failed = await _current(committed_factory, job)
    assert (failed.status, failed.error) == ("FAILURE", "The job ran out of time")
    assert failed.finished_at is not None
    assert failed.updated_at > job.updated_at
    untouched = await _current(committed_factory, bystander)
    assert (untouched.status, untouched.error) == ("STARTED", None)  # only this job failed
    assert not (tmp_path / "imports" / "rows.csv").exists()  # the upload goes with it
    await fail_job(run, job, "A later failure")
    assert (await _current(committed_factory, job)).error == "The job ran out of time"

    finished = await _new_job(committed_factory, status="SUCCESS", result={"created": 1})
    await fail_job(run, finished, "Too late")
    kept = await _current(committed_factory, finished)
    assert (kept.status, kept.error, kept.result) == ("SUCCESS", None, {"created": 1})


async def test_an_export_writes_its_owners_items_only_and_finishes_the_job(
    committed_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    job = await _new_job(committed_factory, kind="export")
    async with committed_factory.begin() as session:
        owner = await session.get(User, job.owner_id)
        assert owner is not None
        for title in ("Oak desk", "=cmd"):
            await make_item(session, owner, title=title)
        await make_item(session, await make_user(session), title="Someone else's")
    reported: list[int] = []
    result = await run_export(_run(committed_factory, tmp_path, reported.append), job)

    assert result == {
        "rows": 2,
        "download_url": f"/api/v1/tasks/{job.task_id}/download",
    }
    rows = list(csv.reader(io.StringIO((tmp_path / f"exports/{job.task_id}.csv").read_text())))
    assert [row[1] for row in rows[1:]] == ["Oak desk", "'=cmd"]
    final = await _current(committed_factory, job)
    assert (final.status, final.progress, final.result) == ("SUCCESS", 100, result)
    assert (final.result_file, final.total_rows, final.rows_done) == (
        f"exports/{job.task_id}.csv",
        2,
        2,
    )
    assert final.finished_at is not None


async def test_json_lines_batches_commit_with_their_progress_and_touch_no_other_job(
    committed_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    lines = [{"title": f"Line {n}", "price": f"{n}.50"} for n in range(1, 8)]
    lines[4]["price"] = "-1"
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    job = await _new_job(
        committed_factory, source_file="rows.jsonl", source_format="jsonl", total_rows=7
    )
    bystander = await _new_job(committed_factory, source_file="other.csv", source_format="csv")
    reported: list[int] = []
    run = JobRun(
        committed_factory, tmp_path, 3, max_rows=8, download_prefix="", report=reported.append
    )

    result = await run_import(run, job)
    assert result == {
        "created": 6,
        "errors": [{"row": 5, "error": validate_row({"title": "x", "price": "-1"})}],
    }
    assert reported == [42, 85, 100]  # rows 3 and 6 of 7, then the end
    assert await _titles(committed_factory, job) == Counter(
        line["title"] for line in lines if line["price"] != "-1"
    )
    async with committed_factory() as session:
        stamps = (
            await session.execute(
                select(Item.created_at, Item.updated_at).where(Item.owner_id == job.owner_id)
            )
        ).all()
    assert len({created for created, _ in stamps}) == 3  # one time per batch...
    assert all(created == updated for created, updated in stamps)  # ...for both columns
    untouched = await _current(committed_factory, bystander)
    assert (untouched.status, untouched.rows_done, untouched.progress) == ("STARTED", 0, 0)


@pytest.mark.parametrize(
    ("rows", "batch", "progress"), [(0, 4, [100]), (1, 1, [99, 100]), (10, 4, [40, 80, 100])]
)
async def test_an_empty_file_a_single_row_and_the_most_rows_allowed_import(
    committed_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    rows: int,
    batch: int,
    progress: list[int],
) -> None:
    (tmp_path / "up.csv").write_text("title,price\n" + "Row,1\n" * rows)
    job = await _new_job(
        committed_factory, source_file="up.csv", source_format="csv", total_rows=rows
    )
    reported: list[int] = []
    run = JobRun(committed_factory, tmp_path, batch, 10, "", report=reported.append)
    assert await run_import(run, job) == {"created": rows, "errors": []}
    assert reported == progress
    final = await _current(committed_factory, job)
    assert (final.status, final.progress, final.rows_done) == ("SUCCESS", 100, rows)


async def test_a_long_export_reports_its_progress_and_exports_share_a_folder(
    committed_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    job = await _new_job(committed_factory, kind="export")
    again = await _new_job(committed_factory, kind="export")
    rows = [
        {"title": f"Item {n}", "price": 1, "owner_id": job.owner_id, "created_at": utcnow()}
        for n in range(20_000)
    ]
    async with committed_factory.begin() as session:
        await session.execute(insert(Item), rows)
    reported: list[int] = []
    job_path = tmp_path / "not-made-yet"
    result = await run_export(_run(committed_factory, job_path, reported.append), job)
    assert result["rows"] == 20_000
    assert reported == [50, 99]  # after 10,000 and 20,000 rows: 100 only once recorded
    final = await _current(committed_factory, job)
    assert (final.status, final.progress) == ("SUCCESS", 100)
    untouched = await _current(committed_factory, again)  # only this job moved
    assert (untouched.status, untouched.progress, untouched.result) == ("STARTED", 0, None)
    assert (await run_export(_run(committed_factory, job_path), again))["rows"] == 0
    assert sorted(p.name for p in (job_path / "exports").iterdir()) == sorted(
        [f"{job.task_id}.csv", f"{again.task_id}.csv"]
    )
