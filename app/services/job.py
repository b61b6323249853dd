"""Jobs as the API sees them: queueing imports and exports, status, downloads.

A job's row is flushed in the request's transaction; its task is published by an
`after_commit` callback, so only after that transaction has committed and before
the 202 is sent. A failed commit therefore never leaves a task behind, and a task
never starts before its row is visible. If publishing fails (broker down), the job
is marked FAILURE and the client gets 503: every task id a client receives is queued.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import get_args

import anyio
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.db.base import utcnow
from app.db.session import SessionDep, after_commit
from app.exceptions import ConflictError, NotFoundError, ServiceError
from app.models.job import Job, JobKind, JobStatus
from app.models.user import User
from app.schemas.job import TaskQuery, TaskSummary
from app.services.base import BaseService
from app.services.item_import import ImportFileError, StoredUpload, count_rows
from app.services.pagination import Listing, equals
from app.tasks.queue import publish

logger = logging.getLogger(__name__)

MAX_TASK_ID_LENGTH = 36


_JOBS = Job.__table__
# A caller's own jobs, newest first: the (owner_id, created_at, id) index serves them.
JOB_LIST = Listing(
    _JOBS,
    TaskQuery,
    filters={
        "owner_id": equals(_JOBS.c.owner_id),
        "status": equals(_JOBS.c.status),
        "kind": equals(_JOBS.c.kind),
    },
    # What a list shows (TaskSummary; the console adds the owner), never a job's result.
    columns=[_JOBS.c[name] for name in [*TaskSummary.model_fields, "owner_id"]],
)


class JobService(BaseService[Job, BaseModel, BaseModel]):
    model = Job
    not_found_message = "Task not found"
    listing = JOB_LIST

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.settings = get_settings()

    async def create_import(self, upload: StoredUpload, *, owner: User) -> Job:
        """Check the uploaded file's structure, record the job, queue it after commit.

        A file that cannot be imported at all (not UTF-8, no usable header, too many
        rows...) is accepted all the same: any file matches the upload's schema, so
        refusing it would be a 4xx to valid input. Its task is recorded as failed at
        once, with the reason as the task's error, and the file is not kept.
        """
        path = self.settings.job_path / upload.name
        try:
            rows = await anyio.to_thread.run_sync(
                lambda: count_rows(path, upload.format, max_rows=self.settings.import_max_rows)
            )
        except ImportFileError as exc:
            await anyio.Path(path).unlink(missing_ok=True)
            # Failed before it could start: recorded as such, nothing to queue.
            return await self._insert(
                "import", owner, status="FAILURE", error=str(exc), finished_at=utcnow()
            )
        return await self._create(
            "import", owner, source_file=upload.name, source_format=upload.format, total_rows=rows
        )

    async def create_export(self, *, owner: User) -> Job:
        """Record an export of the owner's items and queue it after commit."""
        return await self._create("export", owner)

    async def get_visible(self, task_id: str, *, by: User) -> Job:
        """The job, if `by` started it or is a superuser; anyone else gets 404."""
        job = None
        if len(task_id) <= MAX_TASK_ID_LENGTH:
            job = await self.session.scalar(select(Job).where(Job.task_id == task_id))
        if job is None or (job.owner_id != by.id and not by.is_superuser):
            raise NotFoundError("Task not found")  # never reveal other users' tasks
        return job

    async def export_file(self, task_id: str, *, by: User) -> Path:
        """The finished export's CSV file."""
        job = await self.get_visible(task_id, by=by)
        if job.kind != "export":
            raise NotFoundError("This task has no file to download")
        if job.status != "SUCCESS" or not job.result_file:
            raise ConflictError("The export has not finished", details={"status": job.status})
        path = self.settings.job_path / job.result_file
        if not await anyio.Path(path).is_file():
            raise NotFoundError("The export file has expired; export again")
        return path

    async def count_by_status(self) -> dict[str, int]:
        """How many jobs are in each status (every status listed, zeros included)."""
        counts = dict.fromkeys(get_args(JobStatus), 0)
        rows = await self.session.execute(select(Job.status, func.count()).group_by(Job.status))
        for status, count in rows:
            counts[status] = count
        return counts

    async def _create(self, kind: JobKind, owner: User, **fields: object) -> Job:
        """A new job, queued once the request's transaction has committed."""
        job = await self._insert(kind, owner, **fields)
        after_commit(self.session, lambda: self._publish(job))
        return job

    async def _insert(self, kind: JobKind, owner: User, **fields: object) -> Job:
        job = Job(task_id=str(uuid.uuid4()), kind=kind, owner_id=owner.id, **fields)
        self.session.add(job)
        await self.session.flush()
        return job

    async def _publish(self, job: Job) -> None:
        try:
            await anyio.to_thread.run_sync(publish, job.kind, job.id, job.task_id)
        except Exception as exc:
            logger.error("could not queue job %s: %r", job.task_id, exc)
            await self._abandon(job)
            raise ServiceError(
                "The job queue is unavailable; try again later", details={"component": "broker"}
            ) from exc

    async def _abandon(self, job: Job) -> None:
        """Mark a job that never reached the broker as failed, and drop its upload."""
        try:
            await self.session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(status="FAILURE", error="The job could not be queued", finished_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            await self.session.commit()
        except Exception:
            logger.exception("could not mark job %s as failed", job.task_id)
        if job.source_file:
            (self.settings.job_path / job.source_file).unlink(missing_ok=True)


async def get_job_service(session: SessionDep) -> JobService:
    return JobService(session)
