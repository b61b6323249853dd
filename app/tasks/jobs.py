"""Celery tasks for import and export jobs.

A task takes a job id, never an ORM object. It runs the job's coroutine on an event
loop and an engine of its own (created and disposed per task: an engine is bound to
the loop that made it). Failures are sorted three ways:

- transient (the database unreachable or locked): retried with exponential back-off
  up to `JOB_MAX_RETRIES`, then recorded as a failure;
- `JobError`: recorded as the job's failure, with its message for the client;
- anything else: logged with its traceback, recorded as "the job failed unexpectedly".

A duplicate delivery (the job already finished, or another run is ahead of this one)
is ignored: `Ignore` leaves the message acknowledged and the job untouched.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings, get_settings
from app.db.session import build_engine, make_session_factory
from app.models.job import Job
from app.services.job_run import (
    CheckpointLost,
    JobError,
    JobRun,
    fail_job,
    run_export,
    run_import,
    start_job,
)
from app.tasks.celery_app import celery_app
from app.tasks.files import sweep_job_files
from app.tasks.queue import TASK_NAMES

logger = logging.getLogger(__name__)

RETRY_BASE_DELAY = 2.0
RETRY_MAX_DELAY = 120.0
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)

Work = Callable[[JobRun, Job], Awaitable[dict[str, Any]]]


def is_transient(exc: BaseException) -> bool:
    """Errors that mean "the database is unavailable right now", worth a retry."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


def retry_delay(retries: int) -> float:
    """Exponential back-off with jitter: about 2, 4, 8... seconds, at most two minutes."""
    delay: float = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2**retries)
    return delay * random.uniform(0.5, 1.0)


@celery_app.task(bind=True, name=TASK_NAMES["import"], max_retries=None)
def import_items(self: Task[Any, Any], job_id: int) -> dict[str, Any]:
    """Import the rows of an uploaded file as items of the job's owner."""
    return run_task(self, job_id, run_import)


@celery_app.task(bind=True, name=TASK_NAMES["export"], max_retries=None)
def export_items(self: Task[Any, Any], job_id: int) -> dict[str, Any]:
    """Write the job owner's items to a CSV file for download."""
    return run_task(self, job_id, run_export)


def run_task(task: Task[Any, Any], job_id: int, work: Work) -> dict[str, Any]:
    settings = get_settings()
    task_id: str | None = task.request.id
    sweep_job_files(settings.job_path, max_age=settings.job_file_max_age)

    def report(progress: int) -> None:
        task.update_state(state="PROGRESS", meta={"progress": progress})

    try:
        return asyncio.run(_run_job(settings, job_id, task_id, work, report))
    except Ignore:
        raise
    except CheckpointLost:
        logger.info("job %s: another run of it is ahead of this one", job_id)
        raise Ignore() from None
    except (JobError, SoftTimeLimitExceeded) as exc:
        message = str(exc) if isinstance(exc, JobError) else "The job ran out of time"
        _record_failure(settings, job_id, task_id, message)
        raise JobError(message) from None
    except Exception as exc:
        retries = task.request.retries or 0
        transient = is_transient(exc)
        if transient and retries < settings.job_max_retries:
            logger.warning("job %s: %r; retry %d", job_id, exc, retries + 1)
            raise task.retry(exc=exc, countdown=retry_delay(retries)) from exc
        logger.exception("job %s failed", job_id)
        message = (
            "The database was unavailable; try again later"
            if transient
            else "The job failed unexpectedly"
        )
        _record_failure(settings, job_id, task_id, message)
        raise JobError(message) from None


async def _run_job(
    settings: Settings,
    job_id: int,
    task_id: str | None,
    work: Work,
    report: Callable[[int], None],
) -> dict[str, Any]:
    engine = build_engine(settings)
    try:
        run = _job_run(settings, make_session_factory(engine), report)
        job = await start_job(run.factory, job_id, task_id)
        if job is None:
            logger.info("job %s: no job for task %s; dropping the message", job_id, task_id)
            raise Ignore()
        if job.finished:
            logger.info("job %s: already %s; nothing to do", job_id, job.status)
            raise Ignore()
        report(job.progress)
        return await work(run, job)
    finally:
        await engine.dispose()


def _job_run(
    settings: Settings,
    factory: async_sessionmaker[AsyncSession],
    report: Callable[[int], None] = lambda _progress: None,
) -> JobRun:
    return JobRun(
        factory=factory,
        job_path=settings.job_path,
        batch_size=settings.import_batch_size,
        max_rows=settings.import_max_rows,
        download_prefix=settings.api_prefix,
        report=report,
    )


def _record_failure(settings: Settings, job_id: int, task_id: str | None, message: str) -> None:
    async def record() -> None:
        engine = build_engine(settings)
        try:
            factory = make_session_factory(engine)
            job = await start_job(factory, job_id, task_id)
            if job is not None:
                await fail_job(_job_run(settings, factory), job, message)
        finally:
            await engine.dispose()

    try:
        asyncio.run(record())
    except Exception:
        logger.exception("job %s: could not record its failure", job_id)
