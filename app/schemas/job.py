from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.models.job import JobKind, JobStatus
from app.schemas.common import BaseSchema, ListQuery


class TaskAccepted(BaseSchema):
    """A job was queued; poll `GET /tasks/{task_id}` for its outcome."""

    task_id: str


class TaskStatus(BaseSchema):
    task_id: str
    status: JobStatus = Field(description="PENDING, STARTED, PROGRESS, SUCCESS or FAILURE")
    progress: int = Field(ge=0, le=100, description="Percentage done")
    result: dict[str, Any] | None = Field(
        description='Import: {"created", "errors": [{"row", "error"}]}; '
        'export: {"rows", "download_url"}'
    )
    error: str | None = Field(description="Why the job failed (status FAILURE)")


class TaskQuery(ListQuery):
    status: JobStatus | None = None
    kind: JobKind | None = None
    sort: Literal["created_at", "-created_at"] = "-created_at"


class TaskSummary(BaseSchema):
    """A job in a list; its `result` is read from `GET /tasks/{task_id}`."""

    task_id: str
    kind: JobKind
    status: JobStatus
    progress: int = Field(ge=0, le=100, description="Percentage done")
    error: str | None = Field(description="Why the job failed (status FAILURE)")
    created_at: datetime
    finished_at: datetime | None
