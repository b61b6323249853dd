"""Running import and export jobs against the database, idempotently.

A task may run more than once for the same job: a worker killed mid-import has its
message delivered again, and the embedded broker or Redis may, rarely, deliver a
message twice. So the `jobs` row is the checkpoint. Each batch of an import commits
its items together with `rows_done` moved forward by a compare-and-set on the old
value: a run that resumes after a crash skips the rows already committed, and of two
runs racing on one job only one can commit a given batch (the other stops with
`CheckpointLost`). Row errors need no storing: validation is deterministic, so a
resumed run finds the same errors again while it reads past the committed rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.db.base import utcnow
from app.db.session import session_scope
from app.models.item import Item
from app.models.job import FINISHED, Job
from app.services.item_export import count_items, iter_item_rows, write_csv
from app.services.item_import import ImportFileError, read_rows, validate_row


class JobError(Exception):
    """The job cannot succeed; the message is shown to the client as the task's error."""


class CheckpointLost(Exception):
    """Another run of the same job committed first: this run stops, that one finishes."""


@dataclass(frozen=True, slots=True)
class JobRun:
    """What a task needs to run a job: the database, the job folder, limits, a reporter."""

    factory: async_sessionmaker[AsyncSession]
    job_path: Path
    batch_size: int
    max_rows: int
    download_prefix: str
    report: Callable[[int], None] = lambda _progress: None


async def start_job(
    factory: async_sessionmaker[AsyncSession], job_id: int, task_id: str | None
) -> Job | None:
    """The job of this task, marked STARTED if it was waiting.

    None when there is no such job: it was deleted with its owner (before this read,
    or between it and the write), or the message outlived its database (a task id
    must match its job's).
    """
    try:
        async with session_scope(factory) as session:
            job = await session.get(Job, job_id)
            if job is None or job.task_id != task_id:
                return None
            if job.status == "PENDING":
                job.status, job.started_at = "STARTED", utcnow()
            return job
    except StaleDataError:  # the UPDATE found no row: deleted in the meantime
        return None


async def fail_job(run: JobRun, job: Job, message: str) -> None:
    """Record a final failure (unless the job already finished) and drop its upload."""
    await _update_unfinished(run, job, status="FAILURE", error=message, finished_at=utcnow())
    _remove_source(run, job)


async def run_import(run: JobRun, job: Job) -> dict[str, Any]:
    """Validate every row, insert the valid ones in batches; `{"created", "errors"}`."""
    if not job.source_file or job.source_format not in ("csv", "jsonl"):
        raise JobError("This job has no file to import")
    path = run.job_path / job.source_file
    if not path.is_file():
        raise JobError("The uploaded file is no longer available; upload it again")
    done, created = job.rows_done, job.created_count
    errors: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    number = 0
    try:
        for number, raw in read_rows(path, job.source_format):  # type: ignore[arg-type]
            if number > run.max_rows:
                raise JobError(f"The file has more than {run.max_rows} rows")
            item = validate_row(raw)
            if isinstance(item, str):
                errors.append({"row": number, "error": item})
            elif number > done:
                batch.append({**item.model_dump(), "owner_id": job.owner_id})
            if number - done >= run.batch_size:
                created += await _commit_batch(run, job, done, number, batch)
                done, batch = number, []
    except ImportFileError as exc:
        raise JobError(str(exc)) from exc
    result = {"created": created + len(batch), "errors": errors}
    await _commit_batch(run, job, done, max(number, done), batch, result=result)
    _remove_source(run, job)
    return result


async def _commit_batch(
    run: JobRun,
    job: Job,
    done: int,
    upto: int,
    rows: list[dict[str, Any]],
    *,
    result: dict[str, Any] | None = None,
) -> int:
    """Insert `rows` and move the checkpoint from `done` to `upto`, in one transaction."""
    now = utcnow()
    values: dict[str, Any] = {
        "rows_done": upto,
        "created_count": Job.created_count + len(rows),
        "status": "PROGRESS",
        "progress": min(99, upto * 100 // max(job.total_rows, upto, 1)),
        "updated_at": now,
    }
    if result is not None:
        values.update(status="SUCCESS", progress=100, result=result, finished_at=now)
    async with session_scope(run.factory) as session:
        # The UPDATE comes first: it takes the row's write lock before any read, so a
        # concurrent run waits here and then finds the checkpoint moved.
        moved = await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.rows_done == done, Job.status.not_in(FINISHED))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], moved).rowcount != 1:
            raise CheckpointLost(job.task_id)
        if rows:
            for row in rows:
                row["created_at"] = row["updated_at"] = now
            await session.execute(insert(Item), rows)
    run.report(values["progress"])
    return len(rows)


async def run_export(run: JobRun, job: Job) -> dict[str, Any]:
    """Write the owner's items to `exports/<task id>.csv`; `{"rows", "download_url"}`."""
    name = f"exports/{job.task_id}.csv"
    path = run.job_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    total = await count_items(run.factory, job.owner_id)

    async def progress(count: int) -> None:
        await _set_progress(run, job, min(99, count * 100 // max(total, 1)))

    rows = await write_csv(iter_item_rows(run.factory, job.owner_id), path, on_progress=progress)
    result = {"rows": rows, "download_url": f"{run.download_prefix}/tasks/{job.task_id}/download"}
    await _update_unfinished(
        run,
        job,
        status="SUCCESS",
        progress=100,
        result=result,
        result_file=name,
        total_rows=rows,
        rows_done=rows,
        finished_at=utcnow(),
    )
    return result


async def _set_progress(run: JobRun, job: Job, progress: int) -> None:
    await _update_unfinished(run, job, status="PROGRESS", progress=progress)
    run.report(progress)


async def _update_unfinished(run: JobRun, job: Job, **values: Any) -> None:
    """Set `values` on the job in a transaction of its own, unless it has finished."""
    async with session_scope(run.factory) as session:
        await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status.not_in(FINISHED))
            .values(**values, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _remove_source(run: JobRun, job: Job) -> None:
    if job.source_file:
        (run.job_path / job.source_file).unlink(missing_ok=True)
